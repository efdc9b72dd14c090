import Synchronization

/// The process-wide budgets every worker shares (issue "hostile load"): open connections, and request
/// body bytes held in memory. Lock-free counters: one atomic add per accept, close or body chunk.
package final class ReceiverBudgets: Sendable {
    /// `--max-connections`: accepted connections open at once, handshaking ones included.
    package let maxConnections: Int
    /// `--max-buffered-bytes`: request body bytes held across all connections until their commit.
    package let maxBufferedBytes: Int
    /// A body read waits for at least this much room.
    package static let minimumRead = 4_096
    private let connections = Atomic<Int>(0)
    private let bufferedBytes = Atomic<Int>(0)

    package init(maxConnections: Int, maxBufferedBytes: Int) {
        self.maxConnections = maxConnections
        self.maxBufferedBytes = maxBufferedBytes
    }

    /// Takes a connection slot; false when all are in use (the worker stops accepting for a moment, and
    /// the kernel's backlog holds the rest).
    package func openConnection() -> Bool {
        let after = connections.add(1, ordering: .relaxed).newValue
        guard after <= maxConnections else {
            connections.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    package func closeConnection() {
        connections.subtract(1, ordering: .relaxed)
    }

    /// Connections open now.
    package var openConnections: Int { connections.load(ordering: .relaxed) }

    /// Body bytes that may still be held (a read asks for at most this much, so the budget is only
    /// overshot by what concurrent reads took at the same moment).
    package var room: Int { max(0, maxBufferedBytes - bufferedBytes.load(ordering: .relaxed)) }

    /// Accounts `count` body bytes now held.
    package func hold(_ count: Int) {
        bufferedBytes.add(count, ordering: .relaxed)
    }

    package func release(_ count: Int) {
        guard count > 0 else { return }
        bufferedBytes.subtract(count, ordering: .relaxed)
    }

    /// Body bytes that travel with a delivery to the writer: released when the last copy of its ticket is
    /// gone (written, or withdrawn and skipped), not when its connection closes.
    package final class Hold: Sendable {
        private let budgets: ReceiverBudgets
        private let bytes: Int
        package init(_ bytes: Int, of budgets: ReceiverBudgets) {
            self.bytes = bytes
            self.budgets = budgets
        }
        deinit { budgets.release(bytes) }
    }

    /// Body bytes held now.
    package var heldBytes: Int { bufferedBytes.load(ordering: .relaxed) }
}
