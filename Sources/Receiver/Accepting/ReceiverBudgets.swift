import Synchronization

/// The process-wide budgets every worker shares (issue "hostile load"): open connections, and request
/// body bytes held in memory, in all and per client (so one client's stalled bodies cannot take the whole
/// budget from the others). Lock-free counters: one atomic add per accept, close or body chunk; a lock
/// only when a connection first learns its client.
package final class ReceiverBudgets: Sendable {
    /// `--max-connections`: accepted connections open at once, handshaking ones included.
    package let maxConnections: Int
    /// `--max-buffered-bytes`: request body bytes held across all connections until their commit.
    package let maxBufferedBytes: Int
    /// A body read waits for at least this much room.
    package static let minimumRead = 4_096
    /// `--client-max-buffered-bytes`: body bytes one client may hold across its connections.
    package let clientMaxBufferedBytes: Int
    private let connections = Atomic<Int>(0)
    private let bufferedBytes = Atomic<Int>(0)
    /// One counter per client that has sent a request (registered clients only, so bounded by the registry).
    private let clientShares = Mutex<[ClientKey: ClientShare]>([:])

    package init(maxConnections: Int, maxBufferedBytes: Int, clientMaxBufferedBytes: Int? = nil) {
        self.maxConnections = maxConnections
        self.maxBufferedBytes = maxBufferedBytes
        self.clientMaxBufferedBytes = clientMaxBufferedBytes ?? maxBufferedBytes
    }

    /// Body bytes one client holds across all its connections and its deliveries still queued.
    package final class ClientShare: Sendable {
        private let held = Atomic<Int>(0)
        /// Body bytes the client may still take under `limit`.
        package func room(limit: Int) -> Int { max(0, limit - held.load(ordering: .relaxed)) }
        package func hold(_ count: Int) { held.add(count, ordering: .relaxed) }
        package func release(_ count: Int) {
            guard count > 0 else { return }
            held.subtract(count, ordering: .relaxed)
        }
        /// Body bytes held now.
        package var heldBytes: Int { held.load(ordering: .relaxed) }
    }

    /// The counter of `client`'s body bytes (the same object for every connection of that client).
    package func share(for client: ClientKey) -> ClientShare {
        clientShares.withLock { shares in
            if let share = shares[client] { return share }
            let share = ClientShare()
            shares[client] = share
            return share
        }
    }

    /// Body bytes a connection of a client holding `share` may read now: the smaller of the process-wide
    /// room and the client's own.
    package func room(for share: ClientShare?) -> Int {
        guard let share else { return room }
        return min(room, share.room(limit: clientMaxBufferedBytes))
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

    /// Accounts `count` body bytes now held, in all and for the client's `share`.
    package func hold(_ count: Int, for share: ClientShare?) {
        bufferedBytes.add(count, ordering: .relaxed)
        share?.hold(count)
    }

    package func release(_ count: Int, for share: ClientShare?) {
        guard count > 0 else { return }
        bufferedBytes.subtract(count, ordering: .relaxed)
        share?.release(count)
    }

    /// Body bytes that travel with a delivery to the writer: released when the last copy of its ticket is
    /// gone (written, or withdrawn and skipped), not when its connection closes.
    package final class Hold: Sendable {
        private let budgets: ReceiverBudgets
        private let share: ClientShare?
        private let bytes: Int
        package init(_ bytes: Int, of budgets: ReceiverBudgets, for share: ClientShare?) {
            self.bytes = bytes
            self.budgets = budgets
            self.share = share
        }
        deinit { budgets.release(bytes, for: share) }
    }

    /// Body bytes held now.
    package var heldBytes: Int { bufferedBytes.load(ordering: .relaxed) }
}
