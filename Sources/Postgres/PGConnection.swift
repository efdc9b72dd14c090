internal import CLibPQ
import Glibc
import Synchronization

/// `PG_DIAG_SQLSTATE` is a char macro (`'C'`) that Swift cannot import (STYLE.md pitfall 3).
private let diagSQLState = Int32(UInt8(ascii: "C"))
/// `PG_DIAG_MESSAGE_PRIMARY` (`'M'`).
private let diagMessagePrimary = Int32(UInt8(ascii: "M"))
/// `PG_DIAG_STATEMENT_POSITION` (`'P'`): 1-based character offset of the error in the statement.
private let diagStatementPosition = Int32(UInt8(ascii: "P"))
/// `PG_DIAG_MESSAGE_DETAIL` (`'D'`).
private let diagMessageDetail = Int32(UInt8(ascii: "D"))
/// `PG_DIAG_SEVERITY_NONLOCALIZED` (`'V'`): `WARNING`, `NOTICE`, … in English whatever lc_messages says.
private let diagSeverityNonlocalized = Int32(UInt8(ascii: "V"))

/// WARNINGs the server sent a session since they were last taken (notice receiver context).
private final class WarningLog {
    var messages: [String] = []
}

/// One notification received through LISTEN.
package struct PGNotification: Sendable, Equatable {
    /// The channel it was sent on.
    package var channel: String
    /// The payload (`NOTIFY channel, 'payload'`).
    package var payload: String
    /// The backend process that sent it.
    package var senderPID: Int32
}

/// A statement the program prepares once per session and then executes by name
/// (`PGConnection.execute(_:_:)`).
package struct PGPreparedStatement: Sendable, Hashable {
    /// The name it is prepared under; unique among the program's prepared statements.
    package let name: String
    /// The statement text, a literal of the program (never built from data).
    package let sql: String

    /// Names a statement text.
    package init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}

/// Owns one `PGconn *` (libpq session) and frees it with `PQfinish` exactly once.
///
/// Statements run only with bound parameters (`PQexecParams`); SQL text is always a literal of the
/// program, never built from data. > Warning: every call blocks on the network; use a connection from
/// one thread at a time, and never from Swift's cooperative pool.
package final class PGConnection {
    private let raw: OpaquePointer
    private var finished = false
    /// Kept alive with the connection: libpq's notice receiver writes into it.
    private let warningLog = WarningLog()
    /// Names of the statements prepared on this session (a new session starts with none).
    private var preparedNames: Set<String> = []

    /// Where this connection points, for messages (`host:port/dbname`, never the password).
    package let endpointDescription: String

    /// Connects with libpq keyword/value parameters (`PQconnectdbParams`). A `url` (`postgresql://…`)
    /// is passed as `dbname` with `expand_dbname`, so libpq parses it; `parameters` override it.
    /// - Throws: `PostgresError.connectionFailed` with one line naming the server and libpq's reason.
    package init(
        url: String? = nil,
        parameters: [String: String] = [:],
        connectTimeoutSeconds: Int = 5,
        applicationName: String = "webhookd"
    ) throws(PostgresError) {
        var keywords: [String] = []
        var values: [String] = []
        if let url {
            try Self.checkURL(url)
            keywords.append("dbname")
            values.append(url)
        }
        for (key, value) in parameters.sorted(by: { $0.key < $1.key }) {
            keywords.append(key)
            values.append(value)
        }
        keywords += ["connect_timeout", "application_name"]
        values += [String(connectTimeoutSeconds), applicationName]
        let connection = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, url == nil ? 0 : 1)
            }
        }
        guard let connection else {
            throw PostgresError(.connectionFailed, "cannot allocate a PostgreSQL connection (out of memory)")
        }
        self.raw = connection
        self.endpointDescription = PGConnection.describe(connection)
        // Server NOTICEs ("relation … already exists, skipping") are not for our users' terminals; WARNINGs
        // are kept, because a COMMIT can succeed with one that changes its meaning (synchronous replication:
        // "committed locally, but might not have been replicated").
        PQsetNoticeReceiver(
            connection,
            { context, result in
                guard let context, let result,
                    let severity = PQresultErrorField(result, diagSeverityNonlocalized),
                    String(cString: severity) == "WARNING"
                else { return }
                let log = Unmanaged<WarningLog>.fromOpaque(context).takeUnretainedValue()
                let message = PQresultErrorField(result, diagMessagePrimary).map { String(cString: $0) } ?? "warning"
                // Sessions that never take them (the registry session) keep only the first few.
                if log.messages.count < 16 { log.messages.append(message) }
            }, Unmanaged.passUnretained(warningLog).toOpaque())
        guard PQstatus(connection) == CONNECTION_OK else {
            let reason = PGConnection.firstLine(PQerrorMessage(connection))
            throw PostgresError(
                .connectionFailed,
                "cannot connect to PostgreSQL at \(endpointDescription): \(reason)",
                detail: PGConnection.text(PQerrorMessage(connection))
            )
        }
    }

    deinit {
        if !finished { PQfinish(raw) }
    }

    /// The value `url` (a `postgresql://` URI or `key=value` text) gives `keyword`, as libpq parses it;
    /// nil when it gives none or cannot be parsed (connecting then reports the problem).
    package static func connectionOption(_ keyword: String, in url: String) -> String? {
        guard let options = PQconninfoParse(url, nil) else { return nil }
        defer { PQconninfoFree(options) }
        var entry = options
        while let name = entry.pointee.keyword {
            if String(cString: name) == keyword { return entry.pointee.val.map { String(cString: $0) } }
            entry += 1
        }
        return nil
    }

    /// libpq reads anything that is neither a `postgresql://`/`postgres://` URI nor `key=value` text as a
    /// bare database name, which fails later with a confusing socket error that repeats the whole text,
    /// password included. Refuse it here, naming only the scheme.
    private static func checkURL(_ url: String) throws(PostgresError) {
        if url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") { return }
        if let schemeEnd = url.firstRange(of: "://"), case let scheme = url[..<schemeEnd.lowerBound],
            scheme.first?.isLetter == true, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+.-".contains($0) })
        {
            throw PostgresError(
                .invalidConfiguration,
                "the database URL must start with postgresql:// or postgres://, not \(scheme)://")
        }
        if url.contains("://") || !url.contains("=") {
            throw PostgresError(.invalidConfiguration, "the database URL must start with postgresql:// or postgres://")
        }
    }

    /// Ends the session now. The object stays valid but unusable (STYLE.md §6.19); `deinit` then does
    /// nothing.
    package func close() {
        guard !finished else { return }
        finished = true
        PQfinish(raw)
    }

    /// True while the session is open and healthy.
    package var isConnected: Bool { !finished && PQstatus(raw) == CONNECTION_OK }

    /// The server process serving this session.
    package var backendPID: Int32 { PQbackendPID(raw) }

    /// The WARNINGs the server sent since the last call (primary messages), and forgets them.
    package func takeWarnings() -> [String] {
        defer { warningLog.messages.removeAll() }
        return warningLog.messages
    }

    /// Reads whatever the server sent an idle session (a FATAL when it was terminated or the server shut
    /// down) without blocking, and says whether the session can still take a statement. A statement sent
    /// on a session that failed this was certainly never executed.
    package func isAliveBeforeSending() -> Bool {
        guard !finished, PQstatus(raw) == CONNECTION_OK else { return false }
        // Read what is there, let libpq parse it (a FATAL), then read again: the end of the stream after
        // the FATAL is what marks the session bad. An idle live session reads nothing, twice.
        guard PQconsumeInput(raw) == 1 else { return false }
        _ = PQisBusy(raw)
        return PQconsumeInput(raw) == 1 && PQstatus(raw) == CONNECTION_OK
    }

    /// A way to cancel this session's running statement from another thread (libpq's `PQcancel`, which
    /// is thread-safe); nil when libpq cannot make one.
    package func makeCancelToken() -> PGCancelToken? {
        PQgetCancel(raw).map(PGCancelToken.init)
    }

    // MARK: - Statements

    /// Runs one statement with bound parameters and returns its rows.
    /// - Parameters:
    ///   - sql: statement text with `$1`, `$2`, … placeholders; a literal of the program.
    ///   - parameters: the values, bound by libpq (text values in text format, bytes in binary).
    /// - Throws: `PostgresError` with the SQLSTATE when the server rejects it, `.connectionLost` when the
    ///   session broke.
    @discardableResult
    package func query(_ sql: String, _ parameters: [PGValue] = []) throws(PostgresError) -> PGResult {
        try ensureOpen()
        for case .text(let value) in parameters where value.utf8.contains(0) {
            throw PostgresError(.queryFailed, "a text parameter contains a NUL byte, which PostgreSQL text cannot hold")
        }
        let result = PGParameterBuffer.with(parameters) { count, values, lengths, formats in
            PQexecParams(raw, sql, count, nil, values, lengths, formats, 0)
        }
        return try check(result, statement: sql)
    }

    /// Runs a statement prepared on this session: the first call on a session prepares it (`PQprepare`,
    /// parameter types from the casts in its text), every call executes it (`PQexecPrepared`), so the
    /// server parses and plans the text once per session instead of once per call. A new session (after a
    /// reconnect) prepares it again on first use.
    /// - Parameters:
    ///   - statement: a name and statement text of the program, with `$1`, `$2`, … placeholders.
    ///   - parameters: the values, bound by libpq (text values in text format, bytes in binary).
    /// - Throws: `PostgresError` as `query(_:_:)` does, for the preparation or the execution.
    @discardableResult
    package func execute(_ statement: PGPreparedStatement, _ parameters: [PGValue] = []) throws(PostgresError)
        -> PGResult
    {
        try ensureOpen()
        for case .text(let value) in parameters where value.utf8.contains(0) {
            throw PostgresError(.queryFailed, "a text parameter contains a NUL byte, which PostgreSQL text cannot hold")
        }
        if !preparedNames.contains(statement.name) {
            _ = try check(PQprepare(raw, statement.name, statement.sql, 0, nil), statement: statement.sql)
            preparedNames.insert(statement.name)
        }
        let result = PGParameterBuffer.with(parameters) { count, values, lengths, formats in
            PQexecPrepared(raw, statement.name, count, values, lengths, formats, 0)
        }
        return try check(result, statement: statement.sql)
    }

    /// Runs a trusted multi-statement script from the program's own files (migrations) with `PQexec`.
    /// > Warning: never pass text that contains data; `query(_:_:)` is for everything else.
    package func executeScript(_ script: String) throws(PostgresError) {
        try ensureOpen()
        _ = try check(PQexec(raw, script), statement: script)
    }

    /// Runs `body` inside BEGIN … COMMIT; rolls back when it throws.
    package func transaction<T>(_ body: () throws -> T) throws -> T {
        try query("BEGIN")
        do {
            let value = try body()
            try query("COMMIT")
            return value
        } catch {
            // A failed ROLLBACK on a broken session changes nothing for the caller: the original
            // error is the one to report.
            _ = try? query("ROLLBACK")
            throw error
        }
    }

    // MARK: - LISTEN / NOTIFY

    /// Subscribes this session to `channel` (an identifier of the program, quoted by libpq).
    package func listen(_ channel: String) throws(PostgresError) {
        try ensureOpen()
        guard let quoted = PQescapeIdentifier(raw, channel, channel.utf8.count) else {
            throw PostgresError(.queryFailed, "cannot quote channel name \(channel)")
        }
        defer { PQfreemem(quoted) }
        try query("LISTEN " + String(cString: quoted))
    }

    /// Waits up to `timeout` for notifications on the channels this session listens to.
    /// - Returns: what arrived (possibly several), or an empty array on timeout.
    /// - Throws: `.connectionLost` when the session broke while waiting.
    package func waitForNotifications(timeout: Duration) throws(PostgresError) -> [PGNotification] {
        try ensureOpen()
        var received = drainNotifications()
        if !received.isEmpty { return received }
        let milliseconds = Int32(
            clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var descriptor = pollfd(fd: PQsocket(raw), events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, milliseconds)
        if ready < 0 && errno != EINTR {
            throw PostgresError(.connectionLost, "waiting for notifications from \(endpointDescription) failed")
        }
        if ready > 0 {
            guard PQconsumeInput(raw) == 1 else {
                throw PostgresError(
                    .connectionLost, "lost the connection to PostgreSQL at \(endpointDescription)",
                    detail: PGConnection.text(PQerrorMessage(raw)))
            }
            received = drainNotifications()
        }
        return received
    }

    private func drainNotifications() -> [PGNotification] {
        var received: [PGNotification] = []
        while let notify = PQnotifies(raw) {
            defer { PQfreemem(notify) }
            received.append(
                PGNotification(
                    channel: String(cString: notify.pointee.relname),
                    payload: String(cString: notify.pointee.extra),
                    senderPID: notify.pointee.be_pid))
        }
        return received
    }

    // MARK: - Internals

    private func ensureOpen() throws(PostgresError) {
        if finished {
            throw PostgresError(.connectionLost, "the connection to \(endpointDescription) was closed")
        }
    }

    private func check(_ result: OpaquePointer?, statement: String) throws(PostgresError) -> PGResult {
        guard let result else {
            throw PostgresError(
                .connectionLost, "lost the connection to PostgreSQL at \(endpointDescription)",
                detail: PGConnection.text(PQerrorMessage(raw)))
        }
        let owned = PGResult(takingOwnership: result)
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY {
            return owned
        }
        let sqlState = PQresultErrorField(result, diagSQLState).map { String(cString: $0) }
        let primary = PQresultErrorField(result, diagMessagePrimary).map { String(cString: $0) }
        let detail = PQresultErrorField(result, diagMessageDetail).map { String(cString: $0) }
        if sqlState == nil && PQstatus(raw) != CONNECTION_OK {
            throw PostgresError(
                .connectionLost, "lost the connection to PostgreSQL at \(endpointDescription)",
                detail: PGConnection.text(PQerrorMessage(raw)))
        }
        var error = PostgresError(
            .queryFailed, primary ?? PGConnection.firstLine(PQresultErrorMessage(result)),
            sqlState: sqlState, detail: detail)
        if let position = PQresultErrorField(result, diagStatementPosition).flatMap({ Int(String(cString: $0)) }) {
            error.statementLine = PGConnection.line(of: position, in: statement)
        }
        throw error
    }

    private static func line(of characterPosition: Int, in text: String) -> Int {
        var line = 1
        for (index, character) in text.enumerated() {
            if index >= characterPosition - 1 { break }
            if character == "\n" { line += 1 }
        }
        return line
    }

    private static func describe(_ connection: OpaquePointer) -> String {
        let host = PQhost(connection).map { String(cString: $0) } ?? "?"
        let port = PQport(connection).map { String(cString: $0) } ?? "?"
        let database = PQdb(connection).map { String(cString: $0) } ?? "?"
        let shownHost = host.hasPrefix("/") ? "socket \(host)" : host
        return "\(shownHost):\(port)/\(database)"
    }

    static func text(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "" }
        return String(cString: message).trimmingTrailingWhitespace()
    }

    static func firstLine(_ message: UnsafePointer<CChar>?) -> String {
        let full = text(message)
        let line = full.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? full
        // libpq prefixes connection errors with the attempted address; keep the part after the last
        // "failed: " which is the reason itself.
        let marker = Array("failed: ".utf8)
        let bytes = Array(line.utf8)
        if bytes.count >= marker.count {
            for start in stride(from: bytes.count - marker.count, through: 0, by: -1)
            where bytes[start..<start + marker.count].elementsEqual(marker) {
                return String(decoding: bytes[(start + marker.count)...], as: UTF8.self)
            }
        }
        return line.isEmpty ? "unknown error" : line
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var scalars = unicodeScalars[...]
        while let last = scalars.last, last == " " || last == "\n" || last == "\t" || last == "\r" {
            scalars = scalars.dropLast()
        }
        return String(String.UnicodeScalarView(scalars))
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live only for the call.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var owned: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    owned.append(nil)
    defer { owned.forEach { free($0) } }
    return owned.withUnsafeMutableBufferPointer { buffer in
        buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { rebound in
            // A non-empty array (it holds at least the terminating nil) always has a base address.
            guard let base = rebound.baseAddress else { preconditionFailure("empty C string array") }
            return body(base)
        }
    }
}

/// Cancels the statement running on one session, from any thread (`PQcancel` opens its own connection
/// to the server and asks it to interrupt that backend). Cancelling when nothing runs does nothing.
package final class PGCancelToken: Sendable {
    /// The `PGcancel *`; only used under `lock` (PQcancel itself is thread-safe; the lock orders it
    /// with PQfreeCancel).
    nonisolated(unsafe) private let raw: OpaquePointer
    private let lock = Mutex(())

    init(_ raw: OpaquePointer) { self.raw = raw }

    deinit { PQfreeCancel(raw) }

    /// Asks the server to cancel the session's current statement; false when the request could not be sent.
    @discardableResult
    package func cancel() -> Bool {
        lock.withLock { _ in
            var message = [CChar](repeating: 0, count: 256)
            return PQcancel(raw, &message, Int32(message.count)) == 1
        }
    }
}
