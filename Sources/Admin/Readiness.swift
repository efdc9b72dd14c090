import Synchronization

/// What `/readyz` answers (SPEC: TLS context loaded and database reachable), kept current by the
/// threads that know: the server marks the TLS context loaded, the bookkeeper reports each database
/// check (at most once a second). Reading it never touches the network, so the admin loop answers at
/// once.
///
/// Sendable without `@unchecked`: the state is in a `Mutex`.
package final class Readiness: Sendable {
    /// A database answer older than this no longer counts: the check runs once a second, so a missing
    /// answer means the database (or the checking thread) is stuck.
    package static let maximumAnswerAge: Duration = .milliseconds(2_500)

    private struct State {
        var tlsLoaded = false
        var stopping = false
        var lastAnswer: ContinuousClock.Instant?
        var lastFailure: String?
    }

    private let state = Mutex(State())

    /// Starts not ready: no TLS context, no database answer yet.
    package init() {}

    /// The server built and self-tested its TLS context.
    package func markTLSLoaded() {
        state.withLock { $0.tlsLoaded = true }
    }

    /// SIGTERM: from now on the receiver is not ready (load balancers stop sending while it drains).
    package func markStopping() {
        state.withLock { $0.stopping = true }
    }

    /// The database answered a query at `now`.
    package func databaseAnswered(at now: ContinuousClock.Instant = .now) {
        state.withLock { state in
            state.lastAnswer = now
            state.lastFailure = nil
        }
    }

    /// The database check failed; `reason` is one line for a person (never a password).
    package func databaseFailed(_ reason: String) {
        state.withLock { state in
            state.lastAnswer = nil
            state.lastFailure = reason
        }
    }

    /// Whether the receiver is ready at `now`, and when not, why.
    package func status(at now: ContinuousClock.Instant = .now) -> Status {
        state.withLock { state in
            guard !state.stopping else { return .unavailable("shutting down") }
            guard state.tlsLoaded else { return .unavailable("TLS context not loaded") }
            if let failure = state.lastFailure { return .unavailable("database unreachable: \(failure)") }
            guard let answer = state.lastAnswer else { return .unavailable("database unreachable: not checked yet") }
            guard now - answer <= Self.maximumAnswerAge else {
                return .unavailable("database unreachable: no answer for \((now - answer).components.seconds) s")
            }
            return .ready
        }
    }

    /// The outcome of `status(at:)`.
    package enum Status: Sendable, Equatable {
        case ready
        case unavailable(String)
    }
}
