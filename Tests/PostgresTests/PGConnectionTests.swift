import Foundation
import Postgres
import TestSupport
import Testing

/// `PGConnection` against a real cluster (the shared `TestCluster`, one fresh database per test).
@Suite("PGConnection")
struct PGConnectionTests {
    // MARK: - Bound parameters

    @Test("hostile text parameters round-trip byte for byte, as values and through a table")
    func hostileTextRoundTrips() throws {
        let connection = try TestDatabase.create(migrated: false).connect()
        try connection.query("CREATE TABLE t (n int, v text)")
        let big = String(repeating: "x'\"\\$1;\u{1F600}\n", count: 9_000)
        let hostile = [
            "it's", "\"double\"", "'; DROP TABLE t; --", "back\\slash\\\\", "$1", "$2::int",
            "emoji \u{1F4A9}\u{1F1EB}\u{1F1F7}",
            "line\nbreak\r\n\ttab", "", " ", "NULL", "E'\\x41'", "\u{7F}\u{1}", big,
        ]
        #expect(big.utf8.count >= 100 * 1024)
        for (index, value) in hostile.enumerated() {
            let echoed = try connection.query(
                "SELECT $1::text, length($1::text), octet_length($1::text)", [.text(value)])
            #expect(echoed.string(0, 0) == value)
            #expect(echoed.int(0, 1) == value.unicodeScalars.count)
            #expect(echoed.int(0, 2) == value.utf8.count)
            try connection.query("INSERT INTO t (n, v) VALUES ($1, $2)", [.int(index), .text(value)])
        }
        let stored = try connection.query("SELECT v FROM t ORDER BY n")
        #expect(stored.rowCount == hostile.count)
        for row in 0..<stored.rowCount {
            #expect(Array((stored.string(row, 0) ?? "<null>").utf8) == Array(hostile[row].utf8))
        }
        // The "DROP TABLE" value stayed a value.
        #expect(try connection.query("SELECT to_regclass('t') IS NOT NULL").bool(0, 0) == true)
    }

    @Test("a text parameter with a NUL byte is refused with a clear error, before anything reaches the server")
    func textWithNulIsRefused() throws {
        let connection = try TestDatabase.create(migrated: false).connect()
        let error = #expect(throws: PostgresError.self) {
            try connection.query("SELECT $1::text", [.text("before\u{0}after")])
        }
        #expect(error?.message.contains("NUL") == true)
        #expect(error?.code == .queryFailed)
        // The session is still usable.
        #expect(try connection.query("SELECT 1").int(0, 0) == 1)
    }

    @Test("bytea parameters carry every byte value 0…255, and empty bytes stay empty, not NULL")
    func byteaRoundTrips() throws {
        let connection = try TestDatabase.create(migrated: false).connect()
        let everyByte = (0...255).map { UInt8($0) }
        let sample = everyByte + everyByte.reversed() + [0, 0, 0x5C, 0x27]
        let echoed = try connection.query("SELECT $1::bytea, length($1::bytea)", [.bytes(sample)])
        #expect(echoed.bytes(0, 0) == sample)
        #expect(echoed.int(0, 1) == sample.count)

        try connection.query("CREATE TABLE b (n int, v bytea)")
        try connection.query("INSERT INTO b VALUES (1, $1), (2, $2)", [.bytes(sample), .bytes([])])
        let stored = try connection.query("SELECT v, v IS NULL FROM b ORDER BY n")
        #expect(stored.bytes(0, 0) == sample)
        #expect(stored.bytes(1, 0) == [])
        #expect(stored.bool(1, 1) == false)
    }

    @Test("NULL parameters arrive as SQL NULL and read back as nil")
    func nullsRoundTrip() throws {
        let connection = try TestDatabase.create(migrated: false).connect()
        let result = try connection.query(
            "SELECT $1::text, $2::bytea, $3::int, $1 IS NULL, $4::text",
            [.null, .null, .optional(nil), .optional("present")])
        #expect(result.isNull(0, 0))
        #expect(result.string(0, 0) == nil)
        #expect(result.bytes(0, 1) == nil)
        #expect(result.int(0, 2) == nil)
        #expect(result.bool(0, 3) == true)
        #expect(result.string(0, 4) == "present")
    }

    @Test("typed helpers: .int and .bool bind as their SQL types")
    func integerAndBooleanParameters() throws {
        let connection = try TestDatabase.create(migrated: false).connect()
        let result = try connection.query(
            "SELECT $1::bigint + 1, $2::boolean, NOT $3::boolean", [.int(Int.max - 1), .bool(true), .bool(false)])
        #expect(result.int(0, 0) == Int.max)
        #expect(result.bool(0, 1) == true)
        #expect(result.bool(0, 2) == true)
    }

    @Test("text[] elements with quotes, commas, braces, backslashes and NULL-like text keep their shape")
    func textArrayRoundTrips() throws {
        let connection = try TestDatabase.create(migrated: false).connect()
        let elements = [
            "plain", "with \"quotes\"", "a,b", "{braces}", "}{", "back\\slash", "NULL", "null", "", " padded ",
            "emoji \u{1F600}", "new\nline", "'single'", "\\\"",
        ]
        let result = try connection.query(
            "SELECT $1::text[], cardinality($1::text[]), ($1::text[])[3]", [.textArray(elements)])
        #expect(result.textArray(0, 0) == elements.map { Optional($0) })
        #expect(result.int(0, 1) == elements.count)
        #expect(result.string(0, 2) == "a,b")

        let edges = try connection.query(
            "SELECT $1::text[], $2::text[], ARRAY['x', NULL, 'NULL']::text[], NULL::text[]",
            [.textArray([]), .textArray([""])])
        #expect(edges.textArray(0, 0) == [])
        #expect(edges.textArray(0, 1) == [""])
        #expect(edges.textArray(0, 2) == ["x", nil, "NULL"])
        #expect(edges.textArray(0, 3) == nil)
    }

    // MARK: - Binary arrays and prepared statements

    @Test("binary array elements keep their exact bytes: quotes, braces, commas, backslashes, NULL, empty, non-ASCII")
    func binaryArraysRoundTrip() throws {
        let connection = try TestDatabase.create(migrated: false).connect()
        let hostile: [String?] = [
            "it's", "\"", "\\", "{", "}", "{a,b}", ",", "a,b", "NULL", nil, "", " ", "\"NULL\"", "{\"x\"}",
            "émoji \u{1F4A9} 中文", "line\nbreak\ttab", "\u{7F}\u{1}", String(repeating: "{\\\",}", count: 5_000),
        ]
        var texts = PGBinaryArray(of: .text)
        for value in hostile { texts.append(text: value) }
        #expect(texts.count == hostile.count)
        let result = try connection.query(
            "SELECT v, v IS NULL, n FROM unnest($1::text[]) WITH ORDINALITY AS a (v, n) ORDER BY n",
            [.binaryArray(texts)])
        #expect(result.rowCount == hostile.count)
        for (row, value) in hostile.enumerated() {
            #expect(result.isNull(row, 0) == (value == nil), "element \(row)")
            #expect(result.string(row, 0).map { Array($0.utf8) } == value.map { Array($0.utf8) }, "element \(row)")
        }

        let everyByte = (0...255).map { UInt8($0) }
        var bodies = PGBinaryArray(of: .bytea)
        for value in [everyByte, [], [0, 0], Array("{\"\\,}".utf8)] { bodies.append(bytes: value) }
        bodies.appendNull()
        let bytes = try connection.query(
            "SELECT v, v IS NULL FROM unnest($1::bytea[]) WITH ORDINALITY AS a (v, n) ORDER BY n",
            [.binaryArray(bodies)])
        #expect(bytes.rowCount == 5)
        #expect(bytes.bytes(0, 0) == everyByte)
        #expect(bytes.bytes(1, 0) == [] && bytes.bool(1, 1) == false, "empty bytes stay empty, not NULL")
        #expect(bytes.bytes(2, 0) == [0, 0])
        #expect(bytes.bytes(3, 0) == Array("{\"\\,}".utf8))
        #expect(bytes.bool(4, 1) == true)

        var documents = PGBinaryArray(of: .jsonb)
        documents.append(jsonText: #"{"a": "x\"\\y", "b": [1, {}], "c": null}"#)
        documents.append(jsonText: nil)
        var numbers = PGBinaryArray(of: .int8)
        for value in [Int64.min, -1, 0, 1_900_000_000, Int64.max] { numbers.append(int8: value) }
        var flags = PGBinaryArray(of: .bool)
        for value in [true, false] { flags.append(bool: value) }
        let typed = try connection.query(
            """
            SELECT ($1::jsonb[])[1] = '{"c": null, "b": [1, {}], "a": "x\\"\\\\y"}'::jsonb, ($1::jsonb[])[2] IS NULL,
                   $2::bigint[] = ARRAY[-9223372036854775808, -1, 0, 1900000000, 9223372036854775807]::bigint[],
                   $3::boolean[] = ARRAY[true, false], cardinality($4::text[]), array_lower($2::bigint[], 1)
            """,
            [
                .binaryArray(documents), .binaryArray(numbers), .binaryArray(flags),
                .binaryArray(PGBinaryArray(of: .text)),
            ])
        #expect(typed.bool(0, 0) == true)
        #expect(typed.bool(0, 1) == true)
        #expect(typed.bool(0, 2) == true)
        #expect(typed.bool(0, 3) == true)
        #expect(typed.int(0, 4) == 0)
        #expect(typed.int(0, 5) == 1)

        // The element type travels with the array: a text array bound to bytea[] is refused, not misread.
        let mismatch = #expect(throws: PostgresError.self) {
            try connection.query("SELECT $1::bytea[]", [.binaryArray(texts)])
        }
        #expect(mismatch?.sqlState == "42804")
    }

    @Test("a prepared statement is prepared once per session and works again on a new session")
    func preparedStatementsPerSession() throws {
        let database = try TestDatabase.create(migrated: false)
        let statement = PGPreparedStatement(name: "test_add", sql: "SELECT $1::int + $2::int, $3::text")
        let first = try database.connect()
        for value in 0..<3 {
            let result = try first.execute(statement, [.int(value), .int(40), .text("it's $1")])
            #expect(result.int(0, 0) == value + 40)
            #expect(result.string(0, 1) == "it's $1")
        }
        let prepared = try first.query(
            "SELECT count(*) FROM pg_prepared_statements WHERE name = $1", [.text(statement.name)])
        #expect(prepared.int(0, 0) == 1)
        let second = try database.connect()
        #expect(try second.execute(statement, [.int(1), .int(1), .null]).int(0, 0) == 2)
        // A refused execution leaves the statement prepared and the session usable.
        let error = #expect(throws: PostgresError.self) {
            try first.execute(statement, [.text("x"), .int(1), .null])
        }
        #expect(error?.sqlState == "22P02")
        #expect(try first.execute(statement, [.int(2), .int(2), .null]).int(0, 0) == 4)
    }

    // MARK: - Errors from the server

    @Test("the SQLSTATE is captured: 23505 for a unique violation, 42P01 for a missing table")
    func sqlStateIsCaptured() throws {
        let connection = try TestDatabase.create(migrated: false).connect()
        try connection.query("CREATE TABLE u (k text PRIMARY KEY)")
        try connection.query("INSERT INTO u VALUES ($1)", [.text("one")])
        let duplicate = #expect(throws: PostgresError.self) {
            try connection.query("INSERT INTO u VALUES ($1)", [.text("one")])
        }
        #expect(duplicate?.sqlState == "23505")
        #expect(duplicate?.code == .queryFailed)
        #expect(duplicate?.isConnectionProblem == false)

        let missing = #expect(throws: PostgresError.self) {
            try connection.query("SELECT * FROM no_such_table")
        }
        #expect(missing?.sqlState == "42P01")
        #expect(missing?.message.contains("no_such_table") == true)
        #expect(missing?.description.contains("\n") == false)
        // A failed statement in autocommit leaves the session usable.
        #expect(try connection.query("SELECT count(*) FROM u").int(0, 0) == 1)
    }

    @Test("a transaction whose body throws is rolled back and the error reaches the caller")
    func transactionRollsBackOnError() throws {
        struct Abort: Error {}
        let connection = try TestDatabase.create(migrated: false).connect()
        try connection.query("CREATE TABLE t (v text)")
        #expect(throws: Abort.self) {
            try connection.transaction {
                try connection.query("INSERT INTO t VALUES ($1)", [.text("rolled back")])
                throw Abort()
            }
        }
        #expect(try connection.query("SELECT count(*) FROM t").int(0, 0) == 0)

        // A statement failing inside the body rolls back too, and the session carries on.
        #expect(throws: PostgresError.self) {
            try connection.transaction {
                try connection.query("INSERT INTO t VALUES ($1)", [.text("also rolled back")])
                try connection.query("SELECT * FROM no_such_table")
            }
        }
        let committed = try connection.transaction {
            try connection.query("INSERT INTO t VALUES ($1) RETURNING v", [.text("kept")]).string(0, 0)
        }
        #expect(committed == "kept")
        let rows = try connection.query("SELECT v FROM t")
        #expect(rows.rowCount == 1)
        #expect(rows.string(0, 0) == "kept")
    }

    // MARK: - LISTEN / NOTIFY

    @Test("a NOTIFY from another session reaches a LISTENing session with its payload")
    func listenReceivesNotify() throws {
        let database = try TestDatabase.create(migrated: false)
        let listener = try database.connect()
        let sender = try database.connect()
        try listener.listen("test_channel")
        try sender.query("SELECT pg_notify($1, $2)", [.text("test_channel"), .text("payload 'one' \u{1F600}")])
        try sender.query("SELECT pg_notify($1, $2)", [.text("other_channel"), .text("not for us")])
        try sender.query("SELECT pg_notify($1, $2)", [.text("test_channel"), .text("two")])

        let received = try collectNotifications(on: listener, count: 2)
        #expect(received.map(\.payload) == ["payload 'one' \u{1F600}", "two"])
        #expect(received.allSatisfy { $0.channel == "test_channel" && $0.senderPID == sender.backendPID })
    }

    @Test("waitForNotifications returns an empty array when nothing is sent before the timeout")
    func waitForNotificationsTimesOutEmpty() throws {
        let connection = try TestDatabase.create(migrated: false).connect()
        try connection.listen("quiet_channel")
        #expect(try connection.waitForNotifications(timeout: .milliseconds(100)).isEmpty)
        // Still usable afterwards.
        #expect(try connection.query("SELECT 2").int(0, 0) == 2)
    }

    @Test("a channel name that needs quoting is quoted, not interpreted")
    func listenQuotesTheChannel() throws {
        let database = try TestDatabase.create(migrated: false)
        let listener = try database.connect()
        let sender = try database.connect()
        let channel = "Mixed Case; SELECT 1"
        try listener.listen(channel)
        try sender.query("SELECT pg_notify($1, 'ok')", [.text(channel)])
        #expect(try collectNotifications(on: listener, count: 1).map(\.channel) == [channel])
    }

    // MARK: - Connection failures

    @Test("connecting to a port where nothing listens fails with one line naming 127.0.0.1, the port and 'refused'")
    func refusedConnectionIsOneClearLine() throws {
        let closed = try RefusingLoopbackPort()
        let error = #expect(throws: PostgresError.self) {
            try PGConnection(
                parameters: ["host": "127.0.0.1", "port": String(closed.port), "user": "u", "dbname": "d"])
        }
        let message = error?.description ?? ""
        #expect(error?.code == .connectionFailed)
        #expect(error?.isConnectionProblem == true)
        #expect(message.contains("127.0.0.1"))
        #expect(message.contains(String(closed.port)))
        #expect(message.lowercased().contains("refused"))
        #expect(!message.contains("\n"))
    }

    @Test("a URL with a scheme other than postgresql:// fails with one clear line that hides the password")
    func badURLSchemeIsClear() throws {
        for url in ["mysql://user:secret@127.0.0.1:3306/app", "127.0.0.1:5432/secret", "user:secret@host://x"] {
            let error = #expect(throws: PostgresError.self, "\(url)") { try PGConnection(url: url) }
            let message = error?.description ?? ""
            #expect(message.contains("postgresql://"), "\(url): \(message)")
            #expect(!message.contains("secret"), "\(url): \(message)")
            #expect(!message.contains("\n"))
            #expect(error?.code == .invalidConfiguration)
        }
        let mysql = #expect(throws: PostgresError.self) { try PGConnection(url: "mysql://u:p@h/d") }
        #expect(mysql?.message.contains("mysql://") == true)
    }

    @Test("both URL schemes libpq knows, and key=value text, still connect")
    func acceptedURLForms() throws {
        let database = try TestDatabase.create(migrated: false)
        let parameters = database.parameters
        let alternateScheme = database.url.replacingOccurrences(of: "postgresql://", with: "postgres://")
        let keywordForm = ["host", "port", "user", "password", "dbname"]
            .map { "\($0)=\(parameters[$0] ?? "")" }.joined(separator: " ")
        for url in [database.url, alternateScheme, keywordForm] {
            let connection = try PGConnection(url: url)
            #expect(try connection.query("SELECT current_database()").string(0, 0) == database.name)
        }
    }

    @Test("a wrong password fails with one line saying authentication failed, without the password")
    func wrongPasswordIsClear() throws {
        let database = try TestDatabase.create(migrated: false)
        var parameters = database.parameters
        parameters["password"] = "definitely-wrong-password"
        let error = #expect(throws: PostgresError.self) {
            try PGConnection(parameters: parameters)
        }
        let message = error?.description ?? ""
        #expect(error?.code == .connectionFailed)
        #expect(message.contains("password authentication failed"))
        #expect(message.contains(database.name))
        #expect(!message.contains("definitely-wrong-password"))
        #expect(!message.contains("\n"))
    }

    @Test("a session the server terminates reports a connection problem on its next use, never a crash")
    func terminatedSessionIsAConnectionProblem() throws {
        let database = try TestDatabase.create(migrated: false)
        let victim = try database.connect()
        let admin = try database.connect()
        // The timeout argument makes pg_terminate_backend wait until the backend has gone.
        let terminated = try admin.query("SELECT pg_terminate_backend($1, 10000)", [.int(Int(victim.backendPID))])
        #expect(terminated.bool(0, 0) == true)

        let first = #expect(throws: PostgresError.self) { try victim.query("SELECT 1") }
        #expect(first?.isConnectionProblem == true)
        #expect(first?.description.contains("\n") == false)
        let second = #expect(throws: PostgresError.self) { try victim.query("SELECT 1") }
        #expect(second?.isConnectionProblem == true)
        #expect(!victim.isConnected)
        victim.close()
        let closed = #expect(throws: PostgresError.self) { try victim.query("SELECT 1") }
        #expect(closed?.code == .connectionLost)
    }

    @Test("a session terminated while LISTENing reports a connection problem from waitForNotifications")
    func terminatedListenerIsAConnectionProblem() throws {
        let database = try TestDatabase.create(migrated: false)
        let listener = try database.connect()
        let admin = try database.connect()
        try listener.listen("doomed")
        try admin.query("SELECT pg_terminate_backend($1, 10000)", [.int(Int(listener.backendPID))])
        let error = #expect(throws: PostgresError.self) {
            // The server's goodbye arrives at once; a few rounds cover a slow wake-up without a fixed wait.
            for _ in 0..<50 { _ = try listener.waitForNotifications(timeout: .milliseconds(200)) }
        }
        #expect(error?.isConnectionProblem == true)
    }
}

/// Waits (bounded) until `count` notifications have arrived on `connection`.
func collectNotifications(
    on connection: PGConnection, count: Int, timeout: Duration = .seconds(10)
) throws -> [PGNotification] {
    let deadline = ContinuousClock.now + timeout
    var received: [PGNotification] = []
    while received.count < count && ContinuousClock.now < deadline {
        received += try connection.waitForNotifications(timeout: .milliseconds(200))
    }
    return received
}

/// Collects notifications on `connection` until one with `marker` as payload arrives, and returns the ones
/// before it. Notifications arrive in commit order, so whatever was committed before the marker's
/// transaction has arrived by then: absence is checked without waiting for a time.
func notifications(
    on connection: PGConnection, before marker: String, timeout: Duration = .seconds(10)
) throws -> [PGNotification] {
    let deadline = ContinuousClock.now + timeout
    var received: [PGNotification] = []
    while ContinuousClock.now < deadline {
        received += try connection.waitForNotifications(timeout: .milliseconds(200))
        if let index = received.firstIndex(where: { $0.payload == marker }) {
            return Array(received[..<index])
        }
    }
    Issue.record("the marker notification \(marker) did not arrive within \(timeout)")
    return received
}
