import Synchronization

/// Counters the receiver keeps for logs, `/readyz` and (with the operations issue) `/metrics`.
/// Updated from every loop and writer thread.
package final class ReceiverStatistics: Sendable {
    private let counters = Mutex(Counters())

    /// A consistent copy of every counter.
    package struct Counters: Sendable, Equatable {
        package var handshakes: [String: Int] = [:]  // "ok" or the refusal reason code
        package var requests: [Int: Int] = [:]  // by status
        package var deliveriesCommitted = 0
        package var duplicates = 0
        package var commitBatches = 0
        package var commitBatchRows = 0
        package var databaseErrors = 0
        package var rejectionsStored = 0
        package var rejectionsDropped = 0
        package var openConnections = 0
        package var handshakeTimeouts = 0
    }

    package init() {}

    package var snapshot: Counters { counters.withLock { $0 } }

    package func recordHandshake(_ result: String) { counters.withLock { $0.handshakes[result, default: 0] += 1 } }
    package func recordRequest(status: Int) { counters.withLock { $0.requests[status, default: 0] += 1 } }
    package func recordOutcome(_ outcome: DeliveryOutcome) {
        counters.withLock { counters in
            switch outcome {
            case .stored: counters.deliveriesCommitted += 1
            case .duplicate: counters.duplicates += 1
            case .unavailable, .failed: break
            }
        }
    }
    package func recordCommit(batchSize: Int, duration: Duration) {
        _ = duration
        counters.withLock {
            $0.commitBatches += 1
            $0.commitBatchRows += batchSize
        }
    }
    package func recordDatabaseError() { counters.withLock { $0.databaseErrors += 1 } }
    package func recordRejection(stored: Bool) {
        counters.withLock { stored ? ($0.rejectionsStored += 1) : ($0.rejectionsDropped += 1) }
    }
    package func connectionOpened() { counters.withLock { $0.openConnections += 1 } }
    package func connectionClosed() { counters.withLock { $0.openConnections -= 1 } }
    package func recordHandshakeTimeout() { counters.withLock { $0.handshakeTimeouts += 1 } }
}
