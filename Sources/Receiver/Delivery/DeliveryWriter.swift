import Glibc
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
    /// Bodies per batch stay under this, so one statement's bytea array stays far inside PostgreSQL's
    /// 1 GB limit for a value (a single larger body still goes, alone).
    private let maxBatchBytes: Int
    /// `--commit-timeout`: each writer statement is cancelled and rolled back past it.
    private let statementTimeout: Duration
    private let cancelSlots: [CancelSlot]
    private let logger: Logger
    private let state = Mutex(State())
    private let statistics: ReceiverStatistics

    private struct State {
        var stopping = false
        /// Past the stop deadline: threads leave even with deliveries still queued (nobody waits for them).
        var abandoning = false
        var threads: [ThreadHandle] = []
        var running = 0
        var connected = 0
    }

    /// The byte bound of one batch.
    package static let defaultMaxBatchBytes = 32 << 20

    /// Creates a writer; nothing runs until `start()`.
    package init(
        database: DatabaseHandle, threads: Int = 1, maxBatch: Int = 256,
        maxBatchBytes: Int = DeliveryWriter.defaultMaxBatchBytes, statementTimeout: Duration = .seconds(30),
        statistics: ReceiverStatistics, logger: Logger
    ) throws(SystemError) {
        let signal = try WakeupSignal()
        self.signal = signal
        self.queue = HandoffQueue(signal: signal)
        self.database = database
        self.threadCount = threads
        self.maxBatch = maxBatch
        self.maxBatchBytes = maxBatchBytes
        self.statementTimeout = statementTimeout
        self.cancelSlots = (0..<threads).map { _ in CancelSlot() }
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
        state.withLock { $0.running = threadCount }
        for index in 0..<threadCount {
            handles.append(try startThread(name: "writer-\(index)") { [self] in self.run(slot: cancelSlots[index]) })
        }
        state.withLock { $0.threads = handles }
    }

    /// Writes what is queued for up to 3 s, then stops (see `stop(within:)`).
    package func stop() {
        stop(within: .seconds(3))
    }

    /// Writes what is queued for up to `limit`; then cancels running statements (they roll back: nothing
    /// half-done is committed later) and leaves the rest unwritten. Returns once every thread ended.
    package func stop(within limit: Duration) {
        let threads = state.withLock { state in
            state.stopping = true
            return state.threads
        }
        for _ in threads { signal.signal() }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline && state.withLock({ $0.running > 0 }) { usleep(10_000) }
        if state.withLock({ $0.running > 0 }) {
            logger.warning("database writes did not finish in time; cancelling them", metadata: ["limit": "\(limit)"])
            state.withLock { $0.abandoning = true }
            for slot in cancelSlots { slot.cancel() }
            for _ in threads { signal.signal() }
        }
        threads.forEach { $0.join() }
    }

    /// True while at least one writer thread holds a working database session.
    package var isConnected: Bool { state.withLock { $0.connected > 0 } }

    // MARK: - Writer thread

    private func run(slot: CancelSlot) {
        var session = WriterSession(
            database: database, logger: logger, statementTimeout: statementTimeout, cancelSlot: slot,
            abandoning: { [self] in state.withLock { $0.abandoning } })
        var wasConnected = false
        defer { state.withLock { $0.running -= 1 } }
        while true {
            if state.withLock({ $0.abandoning }) { break }
            // Withdrawn tickets (their connection already answered 503 or went away) are never written.
            // In place (a filter would copy every ticket, retaining each of its delivery's strings): each
            // ticket's claim is taken exactly once.
            var batch = queue.drain(max: maxBatch, budget: maxBatchBytes) { $0.delivery.body.count }
            batch.removeAll { !$0.claim.take() }
            if batch.isEmpty {
                if state.withLock({ $0.stopping }) && queue.count == 0 { break }
                if queue.count == 0 { _ = signal.wait(timeout: .milliseconds(500)) }
                continue
            }
            // More waiting than one batch: make sure a sibling thread wakes for the rest.
            if queue.count > 0 { signal.signal() }
            let outcomes = session.write(batch.map(\.delivery), statistics: statistics)
            if session.isConnected != wasConnected {
                wasConnected = session.isConnected
                state.withLock { $0.connected += wasConnected ? 1 : -1 }
            }
            for index in batch.indices {
                batch[index].replies.push(
                    DeliveryCompletion(connectionID: batch[index].connectionID, outcome: outcomes[index]))
            }
        }
        session.close()
        if wasConnected { state.withLock { $0.connected -= 1 } }
    }
}
