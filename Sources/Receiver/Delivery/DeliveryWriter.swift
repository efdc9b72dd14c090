package import Logging
package import Posix
import Postgres
import Synchronization

/// Commits deliveries in groups: every writer thread takes whatever is waiting (up to `maxBatch`),
/// inserts it with one multi-row INSERT … ON CONFLICT DO NOTHING in one transaction, commits, and posts
/// each outcome back to the owning loop. One fsync serves a whole batch (ARCHITECTURE.md "group commit").
///
/// Rule 1: an outcome of `.stored`/`.duplicate` is posted only after COMMIT returned.
package final class DeliveryWriter: Sendable {
    private let queue: HandoffQueue<DeliveryTicket>
    private let signal: WakeupSignal
    private let database: DatabaseHandle
    private let threadCount: Int
    private let maxBatch: Int
    private let logger: Logger
    private let state = Mutex(State())
    private let statistics: ReceiverStatistics

    private struct State {
        var stopping = false
        var threads: [ThreadHandle] = []
        var connected = 0
    }

    /// Creates a writer; nothing runs until `start()`.
    package init(
        database: DatabaseHandle, threads: Int = 2, maxBatch: Int = 256, statistics: ReceiverStatistics,
        logger: Logger
    ) throws(SystemError) {
        let signal = try WakeupSignal()
        self.signal = signal
        self.queue = HandoffQueue(signal: signal)
        self.database = database
        self.threadCount = threads
        self.maxBatch = maxBatch
        self.statistics = statistics
        self.logger = logger
    }

    /// Queues a delivery; its outcome arrives on `ticket.replies`. Callable from any thread.
    package func submit(_ ticket: DeliveryTicket) {
        queue.push(ticket)
    }

    /// Starts the writer threads.
    package func start() throws(SystemError) {
        var handles: [ThreadHandle] = []
        for index in 0..<threadCount {
            handles.append(try startThread(name: "writer-\(index)") { [self] in self.run() })
        }
        state.withLock { $0.threads = handles }
    }

    /// Finishes every queued delivery (commits included), then stops the threads and returns.
    package func stop() {
        let threads = state.withLock { state in
            state.stopping = true
            return state.threads
        }
        for _ in threads { signal.signal() }
        threads.forEach { $0.join() }
    }

    /// True while at least one writer thread holds a working database session.
    package var isConnected: Bool { state.withLock { $0.connected > 0 } }

    // MARK: - Writer thread

    private func run() {
        var session = WriterSession(database: database, logger: logger)
        var wasConnected = false
        while true {
            let batch = queue.drain(max: maxBatch)
            if batch.isEmpty {
                if state.withLock({ $0.stopping }) && queue.count == 0 { break }
                _ = signal.wait(timeout: .milliseconds(500))
                continue
            }
            // More waiting than one batch: make sure a sibling thread wakes for the rest.
            if queue.count > 0 { signal.signal() }
            let outcomes = session.write(batch.map(\.delivery), statistics: statistics)
            if session.isConnected != wasConnected {
                wasConnected = session.isConnected
                state.withLock { $0.connected += wasConnected ? 1 : -1 }
            }
            for (ticket, outcome) in zip(batch, outcomes) {
                ticket.replies.push(DeliveryCompletion(connectionID: ticket.connectionID, outcome: outcome))
            }
        }
        session.close()
        if wasConnected { state.withLock { $0.connected -= 1 } }
    }
}

/// One writer thread's database session: reconnects with backoff, writes batches.
private struct WriterSession {
    let database: DatabaseHandle
    let logger: Logger
    var connection: PGConnection?
    var nextAttempt = ContinuousClock.now
    var backoff: Duration = .milliseconds(250)

    init(database: DatabaseHandle, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    var isConnected: Bool { connection?.isConnected == true }

    mutating func close() {
        connection?.close()
        connection = nil
    }

    /// Writes `deliveries` in one transaction; returns one outcome per delivery, in order.
    mutating func write(_ deliveries: [Delivery], statistics: ReceiverStatistics) -> [DeliveryOutcome] {
        guard let connection = connect() else {
            statistics.recordDatabaseError()
            return Array(repeating: .unavailable, count: deliveries.count)
        }
        let started = ContinuousClock.now
        do {
            let outcomes = try connection.transaction { try Self.insert(deliveries, on: connection) }
            statistics.recordCommit(batchSize: deliveries.count, duration: ContinuousClock.now - started)
            return outcomes
        } catch let error as PostgresError where error.isConnectionProblem {
            logger.error("database write failed; answering 503", metadata: ["error": "\(error.message)"])
            statistics.recordDatabaseError()
            self.connection?.close()
            self.connection = nil
            return Array(repeating: .unavailable, count: deliveries.count)
        } catch {
            statistics.recordDatabaseError()
            guard deliveries.count > 1 else { return [singleFallback(deliveries[0], on: connection, error: error)] }
            // One bad row must not fail its neighbours: write each alone.
            return deliveries.map { delivery in
                do {
                    return try connection.transaction { try Self.insert([delivery], on: connection)[0] }
                } catch {
                    return singleFallback(delivery, on: connection, error: error)
                }
            }
        }
    }

    /// A single delivery that failed: retry once without `body_json` (a JSON document jsonb still
    /// refused), else report it failed.
    private func singleFallback(_ delivery: Delivery, on connection: PGConnection, error: any Error) -> DeliveryOutcome
    {
        if let error = error as? PostgresError, error.isConnectionProblem { return .unavailable }
        var plain = delivery
        plain.bodyIsJSON = false
        do {
            return try connection.transaction { try Self.insert([plain], on: connection)[0] }
        } catch {
            // The server's primary message and SQLSTATE only: its DETAIL/CONTEXT can quote the
            // offending value (a piece of the body, an idempotency key), and request data is never logged.
            var metadata: Logger.Metadata = [
                "client": "\(delivery.clientID)", "error": "\((error as? PostgresError)?.message ?? "\(error)")",
            ]
            if let state = (error as? PostgresError)?.sqlState { metadata["sqlstate"] = "\(state)" }
            logger.error("database refused a delivery", metadata: metadata)
            if let error = error as? PostgresError, error.isConnectionProblem { return .unavailable }
            return .failed
        }
    }

    private mutating func connect() -> PGConnection? {
        if let connection, connection.isConnected { return connection }
        connection?.close()
        connection = nil
        let now = ContinuousClock.now
        guard now >= nextAttempt else { return nil }
        do {
            let fresh = try database.connect(connectTimeoutSeconds: 2, applicationName: "webhookd writer")
            connection = fresh
            backoff = .milliseconds(250)
            logger.info("database writer connected", metadata: ["database": "\(database.displayName)"])
            return fresh
        } catch {
            logger.error(
                "database unreachable; answering 503 until it is back",
                metadata: ["error": "\(error.message)", "retry_in": "\(backoff)"])
            nextAttempt = now + backoff
            backoff = min(backoff * 2, .seconds(5))
            return nil
        }
    }

    static let columnsPerRow = 20

    /// `INSERT … VALUES ($1…$20), ($21…$40), …` for `rows` rows. Only numbers are interpolated: the
    /// statement's shape depends on the batch size, never on request data (rule 3).
    static func insertStatement(rows: Int) -> String {
        var sql = """
            INSERT INTO deliveries (id, client_id, endpoint, method, path, query, headers, content_type, body, \
            body_json, body_sha256, idempotency_key, cert_subject, cert_issuer, cert_serial, cert_sha256, \
            cert_not_after, remote_addr, tls_version, tls_cipher) VALUES
            """
        for row in 0..<rows {
            let b = row * columnsPerRow
            sql += row == 0 ? " " : ", "
            sql += "($\(b + 1)::uuid, $\(b + 2), $\(b + 3), $\(b + 4), $\(b + 5), $\(b + 6), $\(b + 7)::jsonb, "
            sql += "$\(b + 8), $\(b + 9)::bytea, $\(b + 10)::jsonb, $\(b + 11), $\(b + 12), $\(b + 13), $\(b + 14), "
            sql += "$\(b + 15), $\(b + 16), to_timestamp($\(b + 17)::bigint), $\(b + 18)::inet, $\(b + 19), $\(b + 20))"
        }
        sql += " ON CONFLICT (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id"
        return sql
    }

    static func insert(_ deliveries: [Delivery], on connection: PGConnection) throws -> [DeliveryOutcome] {
        var parameters: [PGValue] = []
        parameters.reserveCapacity(deliveries.count * columnsPerRow)
        for d in deliveries {
            parameters += [
                .text(d.id), .text(d.clientID), .text(d.endpoint), .text(d.method), .text(d.path), .optional(d.query),
                .text(d.headersJSON), .optional(d.contentType), .bytes(d.body),
                d.bodyIsJSON ? .text(String(decoding: d.body, as: UTF8.self)) : .null, .text(d.bodySHA256),
                .optional(d.idempotencyKey), .text(d.certSubject), .text(d.certIssuer), .text(d.certSerial),
                .text(d.certSHA256), .text(String(d.certNotAfter)), .text(d.remoteAddress), .text(d.tlsVersion),
                .text(d.tlsCipher),
            ]
        }
        let result = try connection.query(insertStatement(rows: deliveries.count), parameters)
        var inserted = Set<String>()
        for row in 0..<result.rowCount {
            if let id = result.string(row, 0) { inserted.insert(id) }
        }
        return try deliveries.map { delivery in
            if inserted.contains(delivery.id) { return .stored(id: delivery.id) }
            // Not inserted: its (client, idempotency key) is already stored — by an earlier request, a
            // sibling in this batch, or another receiver. The original id answers the duplicate.
            guard let key = delivery.idempotencyKey else { return .failed }
            let original = try connection.query(
                "SELECT id FROM deliveries WHERE client_id = $1 AND idempotency_key = $2",
                [.text(delivery.clientID), .text(key)])
            guard let id = original.string(0, 0) else { return .failed }
            return .duplicate(id: id)
        }
    }
}
