package import Logging
package import Posix
import Postgres
import Synchronization

/// Commits deliveries in groups: every writer thread takes whatever is waiting (up to `maxBatch`),
/// writes it with one prepared statement (`DeliveryInsert`: INSERT … SELECT FROM unnest(arrays) … ON
/// CONFLICT DO NOTHING, which is its own transaction), and posts each outcome back to the owning loop.
/// One round trip and one fsync serve a whole batch (ARCHITECTURE.md "group commit").
///
/// Rule 1: an outcome of `.stored`/`.duplicate` is posted only after the statement, hence its COMMIT,
/// returned.
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

    /// Writes `deliveries` with one statement (its own transaction: the outcomes exist only after its
    /// COMMIT returned); returns one outcome per delivery, in order.
    mutating func write(_ deliveries: [Delivery], statistics: ReceiverStatistics) -> [DeliveryOutcome] {
        guard let connection = connect() else {
            statistics.recordDatabaseError()
            return Array(repeating: .unavailable, count: deliveries.count)
        }
        let started = ContinuousClock.now
        do throws(PostgresError) {
            let outcomes = try DeliveryInsert.write(deliveries, on: connection, logger: logger)
            statistics.recordCommit(batchSize: deliveries.count, duration: ContinuousClock.now - started)
            return outcomes
        } catch let error where error.isConnectionProblem {
            logger.error("database write failed; answering 503", metadata: ["error": "\(error.message)"])
            statistics.recordDatabaseError()
            self.connection?.close()
            self.connection = nil
            return Array(repeating: .unavailable, count: deliveries.count)
        } catch {
            statistics.recordDatabaseError()
            guard deliveries.count > 1 else { return [singleFallback(deliveries[0], on: connection, error: error)] }
            // The statement was refused whole, so nothing of the batch is stored. One bad row must not
            // fail its neighbours: write each alone.
            return deliveries.map { delivery in
                do throws(PostgresError) {
                    return try DeliveryInsert.write([delivery], on: connection, logger: logger)[0]
                } catch {
                    return singleFallback(delivery, on: connection, error: error)
                }
            }
        }
    }

    /// A single delivery that failed: retry once without `body_json` (a JSON document jsonb still
    /// refused), else report it failed.
    private func singleFallback(_ delivery: Delivery, on connection: PGConnection, error: PostgresError)
        -> DeliveryOutcome
    {
        if error.isConnectionProblem { return .unavailable }
        var plain = delivery
        plain.bodyIsJSON = false
        do throws(PostgresError) {
            return try DeliveryInsert.write([plain], on: connection, logger: logger)[0]
        } catch {
            // The server's primary message and SQLSTATE only: its DETAIL/CONTEXT can quote the
            // offending value (a piece of the body, an idempotency key), and request data is never logged.
            var metadata: Logger.Metadata = ["client": "\(delivery.clientID)", "error": "\(error.message)"]
            if let state = error.sqlState { metadata["sqlstate"] = "\(state)" }
            logger.error("database refused a delivery", metadata: metadata)
            if error.isConnectionProblem { return .unavailable }
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
}

// MARK: - The batch statement

/// One batch of deliveries in one prepared statement, whatever the batch size: each column travels as
/// one binary array parameter (`PGBinaryArray`: length-prefixed elements, nothing escaped, no request
/// data in SQL text — rule 3), `unnest` turns the arrays back into rows (in array order, so the first of
/// two rows with one key is the one inserted), and the same statement answers each input row with the id
/// that stands for it:
/// - its own id when it was inserted;
/// - for a (client, idempotency key) that was already stored, the original's id: the first row of the
///   batch with that key, or the row stored before the statement began.
///
/// A single statement outside BEGIN is its own transaction, so its result arriving means it committed.
/// Only a duplicate whose original another session committed while this statement ran is not visible
/// to the statement's snapshot; those (rare) rows get one lookup each afterwards. The wide columns are
/// read once, by the INSERT; the answer unnests only the ids and keys again.
enum DeliveryInsert {
    /// Prepared once per writer session (`PGConnection.execute` prepares it again after a reconnect).
    static let statement = PGPreparedStatement(
        name: "webhookd_insert_deliveries",
        sql: """
            WITH inserted AS (
                INSERT INTO deliveries (id, client_id, endpoint, method, path, query, headers, content_type, body,
                                        body_json, body_sha256, idempotency_key, cert_subject, cert_issuer,
                                        cert_serial, cert_sha256, cert_not_after, remote_addr, tls_version,
                                        tls_cipher)
                SELECT i.id::uuid, i.client_id, i.endpoint, i.method, i.path, i.query, i.headers, i.content_type,
                       i.body, CASE WHEN i.is_json THEN convert_from(i.body, 'UTF8')::jsonb END, i.body_sha256,
                       i.idempotency_key, i.cert_subject, i.cert_issuer, i.cert_serial, i.cert_sha256,
                       to_timestamp(i.cert_not_after), i.remote_addr::inet, i.tls_version, i.tls_cipher
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                            $7::jsonb[], $8::text[], $9::bytea[], $10::boolean[], $11::text[], $12::text[],
                            $13::text[], $14::text[], $15::text[], $16::text[], $17::bigint[], $18::text[],
                            $19::text[], $20::text[])
                     AS i (id, client_id, endpoint, method, path, query, headers, content_type, body, is_json,
                           body_sha256, idempotency_key, cert_subject, cert_issuer, cert_serial, cert_sha256,
                           cert_not_after, remote_addr, tls_version, tls_cipher)
                ON CONFLICT (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                RETURNING id, client_id, idempotency_key
            )
            SELECT mine.id IS NOT NULL,
                   coalesce(mine.id, CASE WHEN input.idempotency_key IS NOT NULL THEN coalesce(
                       (SELECT sibling.id FROM inserted AS sibling
                        WHERE sibling.client_id = input.client_id
                          AND sibling.idempotency_key = input.idempotency_key),
                       (SELECT stored.id FROM deliveries AS stored
                        WHERE stored.client_id = input.client_id
                          AND stored.idempotency_key = input.idempotency_key)) END)::text
            FROM unnest($1::text[], $2::text[], $12::text[]) WITH ORDINALITY
                 AS input (id, client_id, idempotency_key, position)
            LEFT JOIN inserted AS mine ON mine.id = input.id::uuid
            ORDER BY input.position
            """)

    /// Writes `deliveries` with one statement and returns one outcome per delivery, in order.
    /// - Throws: the statement's error, in which case nothing of the batch was stored.
    static func write(_ deliveries: [Delivery], on connection: PGConnection, logger: Logger) throws(PostgresError)
        -> [DeliveryOutcome]
    {
        let result = try connection.execute(statement, parameters(deliveries))
        guard result.rowCount == deliveries.count else {
            // Cannot happen (one answer row per input row by construction), and the rows are committed,
            // so writing them again would be wrong: report them failed.
            logger.error(
                "the delivery statement answered an unexpected number of rows",
                metadata: ["rows": "\(result.rowCount)", "expected": "\(deliveries.count)"])
            return Array(repeating: .failed, count: deliveries.count)
        }
        return deliveries.indices.map { row in
            let delivery = deliveries[row]
            if result.bool(row, 0) == true { return .stored(id: delivery.id) }
            if let original = result.string(row, 1) { return .duplicate(id: original) }
            return concurrentOriginal(of: delivery, on: connection, logger: logger)
        }
    }

    /// The original of a duplicate that another session committed while the statement ran (so its
    /// snapshot could not see it). Runs after the batch committed: a failure here answers this row
    /// alone and never rewrites the batch.
    private static func concurrentOriginal(of delivery: Delivery, on connection: PGConnection, logger: Logger)
        -> DeliveryOutcome
    {
        // Not inserted without a key cannot happen: the statement only skips idempotency conflicts.
        guard let key = delivery.idempotencyKey else { return .failed }
        do throws(PostgresError) {
            let original = try connection.query(
                "SELECT id FROM deliveries WHERE client_id = $1 AND idempotency_key = $2",
                [.text(delivery.clientID), .text(key)])
            guard let id = original.string(0, 0) else { return .failed }
            return .duplicate(id: id)
        } catch {
            logger.error("looking up the original of a duplicate failed", metadata: ["error": "\(error.message)"])
            return error.isConnectionProblem ? .unavailable : .failed
        }
    }

    /// The statement's twenty array parameters, one element per delivery in each.
    static func parameters(_ deliveries: [Delivery]) -> [PGValue] {
        let count = deliveries.count
        func textColumn(_ value: (Delivery) -> String?) -> PGValue {
            var array = PGBinaryArray(of: .text, reservingBytes: count * 48)
            for delivery in deliveries { array.append(text: value(delivery)) }
            return .binaryArray(array)
        }
        var headers = PGBinaryArray(
            of: .jsonb, reservingBytes: deliveries.reduce(0) { $0 + $1.headersJSON.utf8.count + 5 })
        var bodies = PGBinaryArray(of: .bytea, reservingBytes: deliveries.reduce(0) { $0 + $1.body.count + 4 })
        var isJSON = PGBinaryArray(of: .bool, reservingBytes: count * 5)
        var notAfter = PGBinaryArray(of: .int8, reservingBytes: count * 12)
        for delivery in deliveries {
            headers.append(jsonText: delivery.headersJSON)
            bodies.append(bytes: delivery.body)
            isJSON.append(bool: delivery.bodyIsJSON)
            notAfter.append(int8: delivery.certNotAfter)
        }
        return [
            textColumn { $0.id }, textColumn { $0.clientID }, textColumn { $0.endpoint }, textColumn { $0.method },
            textColumn { $0.path }, textColumn { $0.query }, .binaryArray(headers), textColumn { $0.contentType },
            .binaryArray(bodies), .binaryArray(isJSON), textColumn { $0.bodySHA256 },
            textColumn { $0.idempotencyKey }, textColumn { $0.certSubject }, textColumn { $0.certIssuer },
            textColumn { $0.certSerial }, textColumn { $0.certSHA256 }, .binaryArray(notAfter),
            textColumn { $0.remoteAddress }, textColumn { $0.tlsVersion }, textColumn { $0.tlsCipher },
        ]
    }
}
