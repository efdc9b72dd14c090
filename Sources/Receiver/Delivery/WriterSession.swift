import Glibc
import Logging
package import Postgres
import Synchronization

/// Where a writer thread publishes its session's cancel token, so shutdown can interrupt a statement.
final class CancelSlot: Sendable {
    let token = Mutex<PGCancelToken?>(nil)

    /// Cancels whatever statement the session runs now (nothing when it runs none).
    /// The token is taken out of the lock first: PQcancel connects to the server and may block.
    func cancel() { token.withLock { $0 }?.cancel() }
}

/// One writer thread's database session: connects with backoff, writes batches, and decides what each
/// database failure means for the batch (ARCHITECTURE.md rule 1: 2xx only when durable; and its mirror:
/// 503 only when not stored).
struct WriterSession {
    let database: DatabaseHandle
    let logger: Logger
    /// Every statement's execution (lock waits included) is bounded by this and rolled back past it.
    /// PostgreSQL does not time out the COMMIT itself (an fsync or a synchronous-replication wait); a
    /// connection whose delivery is stuck there closes without an answer (`commitOverdue`).
    let statementTimeout: Duration
    /// Where the owning thread publishes its session's cancel token (shutdown cancels through it).
    let cancelSlot: CancelSlot
    /// True once a shutdown gave up on waiting: long loops stop and report the outcome unknown (by then
    /// no client waits for an answer that could contradict it).
    let abandoning: @Sendable () -> Bool
    var connection: PGConnection?
    /// The backend the current session talks to, to tell whether it is gone after a lost connection.
    var backend: (pid: Int32, started: String)?
    var nextAttempt = ContinuousClock.now
    var backoff: Duration = .milliseconds(250)
    /// How long a lost-during-COMMIT batch may take to resolve before its outcome is reported unknown.
    static let resolveBudget: Duration = .seconds(10)

    init(
        database: DatabaseHandle, logger: Logger, statementTimeout: Duration, cancelSlot: CancelSlot,
        abandoning: @escaping @Sendable () -> Bool = { false }
    ) {
        self.abandoning = abandoning
        self.database = database
        self.logger = logger
        self.statementTimeout = statementTimeout
        self.cancelSlot = cancelSlot
    }

    var isConnected: Bool { connection?.isConnected == true }

    mutating func close() {
        cancelSlot.token.withLock { $0 = nil }
        connection?.close()
        connection = nil
        backend = nil
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
            _ = connection.takeWarnings()
            let outcomes = try DeliveryInsert.write(deliveries, on: connection, logger: logger)
            statistics.recordCommit(batchSize: deliveries.count, duration: ContinuousClock.now - started)
            // A statement that committed with a WARNING (synchronous replication cancelled: "committed locally,
            // but might not have been replicated") is not durable as promised: no 2xx, and no 503 either.
            let warnings = connection.takeWarnings()
            guard warnings.isEmpty else {
                logger.error(
                    "a batch committed with a warning; its connections close without an answer",
                    metadata: ["warning": "\(warnings[0])", "deliveries": "\(deliveries.count)"])
                return outcomes.map { outcome in
                    if case .stored = outcome { return .unknown }
                    return outcome
                }
            }
            return outcomes
        } catch {
            statistics.recordDatabaseError()
            switch WriteFailure(error, sessionAlive: connection.isConnected) {
            case .outcomeUnknown:
                // The session broke while the statement ran: it may have committed. Find out before
                // answering anyone (a 503 for a stored row makes the provider store it twice).
                logger.error(
                    "database connection lost during a write; resolving the batch",
                    metadata: ["error": "\(error.message)"])
                let lost = backend
                close()
                return resolve(deliveries, lostBackend: lost)
            case .rowData:
                // The statement was refused whole, so nothing of the batch is stored. One bad row must not
                // fail its neighbours: write each alone.
                guard deliveries.count > 1 else { return [singleFallback(deliveries[0], on: connection, error: error)] }
                return deliveries.map { delivery in
                    if abandoning() { return .unknown }
                    do throws(PostgresError) {
                        return try DeliveryInsert.write([delivery], on: connection, logger: logger)[0]
                    } catch {
                        return singleFallback(delivery, on: connection, error: error)
                    }
                }
            case .databaseCondition:
                // Timeouts, locks, a full disk, read-only after a failover, a deadlock: the statement rolled
                // back, so nothing is stored. The whole batch is 503, and the session backs off.
                var metadata: Logger.Metadata = ["error": "\(error.message)", "retry_in": "\(backoff)"]
                if let state = error.sqlState { metadata["sqlstate"] = "\(state)" }
                logger.error("database refused a batch; answering 503", metadata: metadata)
                close()
                nextAttempt = .now + backoff
                backoff = min(backoff * 2, .seconds(5))
                return Array(repeating: .unavailable, count: deliveries.count)
            }
        }
    }

    /// A single delivery that failed with a data error: retry once without `body_json` (a JSON document
    /// jsonb still refused), else it cannot be stored as sent (400, not retried).
    private mutating func singleFallback(_ delivery: Delivery, on connection: PGConnection, error: PostgresError)
        -> DeliveryOutcome
    {
        let failure = WriteFailure(error, sessionAlive: connection.isConnected)
        guard failure == .rowData else {
            return failure == .outcomeUnknown ? resolveOne(delivery) : .unavailable
        }
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
            switch WriteFailure(error, sessionAlive: connection.isConnected) {
            case .rowData: return .refused
            case .databaseCondition: return .unavailable
            case .outcomeUnknown: return resolveOne(plain)
            }
        }
    }

    private mutating func resolveOne(_ delivery: Delivery) -> DeliveryOutcome {
        let lost = backend
        close()
        return resolve([delivery], lostBackend: lost)[0]
    }

    /// Outcomes for a batch whose statement's result was lost with the connection. Reconnects, waits until
    /// the old backend is gone (so its transaction is decided), then looks the ids up: found is stored,
    /// missing is not and never will be. Gives up after `resolveBudget` (logged: outcome unknown).
    private mutating func resolve(_ deliveries: [Delivery], lostBackend: (pid: Int32, started: String)?)
        -> [DeliveryOutcome]
    {
        let deadline = ContinuousClock.now + Self.resolveBudget
        while ContinuousClock.now < deadline && !abandoning() {
            do throws(PostgresError) {
                let probe = try database.connect(connectTimeoutSeconds: 2, applicationName: "webhookd writer")
                defer { probe.close() }
                if let lostBackend {
                    // Same pid and start time: that very backend, still alive (a network break). End it.
                    let parameters: [PGValue] = [.text(String(lostBackend.pid)), .text(lostBackend.started)]
                    _ = try probe.query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1::int AND backend_start::text = $2",
                        parameters)
                    var alive = true
                    while alive && ContinuousClock.now < deadline {
                        alive =
                            try probe.query(
                                "SELECT 1 FROM pg_stat_activity WHERE pid = $1::int AND backend_start::text = $2",
                                parameters
                            ).rowCount > 0
                        if alive { _ = try probe.query("SELECT pg_sleep(0.05)") }
                    }
                    if alive { break }
                }
                var ids = PGBinaryArray(of: .text, reservingBytes: deliveries.count * 40)
                for delivery in deliveries { ids.append(text: delivery.id) }
                let found = try probe.query(
                    "SELECT id::text FROM deliveries WHERE id = ANY($1::text[]::uuid[])", [.binaryArray(ids)])
                var stored = Set<String>()
                for row in 0..<found.rowCount { if let id = found.string(row, 0) { stored.insert(id) } }
                logger.info(
                    "lost batch resolved",
                    metadata: ["stored": "\(stored.count)", "not_stored": "\(deliveries.count - stored.count)"])
                // A row not inserted (a duplicate) is not found either: its provider's retry is answered
                // duplicate then, which is the truth.
                return deliveries.map { stored.contains($0.id) ? .stored(id: $0.id) : .unavailable }
            } catch {
                logger.warning(
                    "resolving a lost batch: database not reachable yet", metadata: ["error": "\(error.message)"])
                usleep(200_000)
            }
        }
        logger.error(
            "outcome of a lost batch unknown; its connections are closed without an answer",
            metadata: ["deliveries": "\(deliveries.count)"])
        return Array(repeating: .unknown, count: deliveries.count)
    }

    private mutating func connect() -> PGConnection? {
        // A session the server already ended (terminated, restarted) is replaced before anything is sent
        // on it, so that an outage is a plain "not stored", not an unknown outcome to resolve.
        if let connection, connection.isAliveBeforeSending() { return connection }
        if connection != nil { nextAttempt = .now }
        close()
        let now = ContinuousClock.now
        guard now >= nextAttempt else { return nil }
        do throws(PostgresError) {
            let fresh = try database.connect(
                connectTimeoutSeconds: 2, applicationName: "webhookd writer", statementTimeout: statementTimeout)
            let identity = try fresh.query(
                "SELECT pg_backend_pid()::text, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()")
            if let pid = identity.string(0, 0).flatMap({ Int32($0) }), let started = identity.string(0, 1) {
                backend = (pid, started)
            }
            connection = fresh
            cancelSlot.token.withLock { $0 = fresh.makeCancelToken() }
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

/// What a failed write statement means for its batch.
package enum WriteFailure: Equatable, Sendable {
    /// The session broke while the statement ran: it may or may not have committed.
    case outcomeUnknown
    /// One row's data was refused (SQLSTATE classes 22 and 23, and 54: a value over a size limit, such as a
    /// huge jsonb): the statement rolled back; each row is worth trying alone.
    case rowData
    /// Anything else the server reported (timeouts, locks, resources, read-only, deadlocks): rolled
    /// back, nothing stored, retry later.
    case databaseCondition

    /// - Parameter sessionAlive: whether the session still works after the error. One the server ended
    ///   (a PANIC after the commit record, a failed WAL flush) leaves the outcome unknown whatever the
    ///   SQLSTATE says: the commit may be on disk.
    package init(_ error: PostgresError, sessionAlive: Bool = true) {
        if error.isConnectionProblem || error.sqlState == nil || !sessionAlive {
            self = .outcomeUnknown
        } else if let state = error.sqlState, state.hasPrefix("22") || state.hasPrefix("23") || state.hasPrefix("54") {
            self = .rowData
        } else {
            self = .databaseCondition
        }
    }
}
