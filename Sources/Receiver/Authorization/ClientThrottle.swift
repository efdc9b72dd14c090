import Synchronization

/// A token bucket: `rate` tokens a second up to `burst`; a request takes one. Pure arithmetic on the
/// times it is given, so it is tested without clocks.
package struct TokenBucket: Sendable, Equatable {
    package var tokens: Double
    package var refilledAt: ContinuousClock.Instant

    package init(burst: Int, now: ContinuousClock.Instant) {
        tokens = Double(burst)
        refilledAt = now
    }

    /// Takes a token at `now`; when there is none, how long until there is one.
    package mutating func take(rate: Double, burst: Int, now: ContinuousClock.Instant) -> Duration? {
        let elapsed = now - refilledAt
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(Double(burst), tokens + max(0, seconds) * rate)
        refilledAt = now
        // At most a day: a tiny rate must not overflow a Duration or the Retry-After integer.
        guard tokens >= 1 else { return .seconds(min(86_400, (1 - tokens) / rate)) }
        tokens -= 1
        return nil
    }
}

/// Why a client was throttled.
package enum Throttle: Equatable, Sendable {
    /// Over its rate: retry after this many whole seconds (at least 1).
    case rateLimited(retryAfterSeconds: Int)
    /// Over its open-connection limit: this connection is closed.
    case tooManyConnections
}

/// Per-client limits shared by every worker (`clients.max_connections`, `rate_per_second`, `burst`):
/// open connections counted per client, and one token bucket per rate-limited client.
package final class ClientThrottle: Sendable {
    private struct State {
        var connections: [ClientKey: Int] = [:]
        var buckets: [ClientKey: TokenBucket] = [:]
    }
    private let state = Mutex(State())

    package init() {}

    /// Counts a connection for `client` unless it already has `limit` open.
    package func admitConnection(_ client: ClientKey, limit: Int) -> Bool {
        state.withLock { state in
            let open = state.connections[client, default: 0]
            guard open < limit else { return false }
            state.connections[client] = open + 1
            return true
        }
    }

    /// Forgets a counted connection.
    package func releaseConnection(_ client: ClientKey) {
        state.withLock { state in
            let open = state.connections[client, default: 0] - 1
            state.connections[client] = open > 0 ? open : nil
        }
    }

    /// Takes one request from `client`'s bucket; nil when admitted.
    package func admitRequest(
        _ client: ClientKey, rate: Double, burst: Int, now: ContinuousClock.Instant
    ) -> Throttle? {
        state.withLock { state in
            var bucket = state.buckets[client] ?? TokenBucket(burst: burst, now: now)
            let wait = bucket.take(rate: rate, burst: burst, now: now)
            state.buckets[client] = bucket
            guard let wait else { return nil }
            let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
            return .rateLimited(retryAfterSeconds: max(1, Int(seconds.rounded(.up))))
        }
    }

    /// Open connections counted for `client` now.
    package func openConnections(_ client: ClientKey) -> Int {
        state.withLock { $0.connections[client, default: 0] }
    }
}
