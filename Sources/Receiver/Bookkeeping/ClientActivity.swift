import Synchronization

/// Remembers when each client's `last_seen_at` was last written, so it is written at most once a
/// minute per client (SPEC), off the request path: loops call `seen`, the bookkeeper drains.
package final class ClientActivity: Sendable {
    private struct State {
        var lastQueued: [ClientKey: ContinuousClock.Instant] = [:]
        var pending: [ClientKey: Int64] = [:]  // client → certificate notAfter
    }
    private let state = Mutex(State())
    private let interval: Duration

    package init(interval: Duration = .seconds(60)) {
        self.interval = interval
    }

    /// Notes an accepted request; queues an update when the client was not written within the interval.
    package func seen(clientID: String, certificateNotAfter: Int64, now: ContinuousClock.Instant) {
        state.withLock { state in
            let key = ClientKey(clientID)
            if let last = state.lastQueued[key], now - last < interval { return }
            state.lastQueued[key] = now
            state.pending[key] = certificateNotAfter
        }
    }

    /// Puts back updates that could not be written (a newer one for the same client wins).
    package func restore(_ updates: [ClientKey: Int64]) {
        state.withLock { state in state.pending.merge(updates) { newer, _ in newer } }
    }

    /// The updates to write: client id → the certificate's notAfter (unix seconds).
    package func drain() -> [ClientKey: Int64] {
        state.withLock { state in
            defer { state.pending = [:] }
            return state.pending
        }
    }
}
