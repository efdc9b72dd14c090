import Posix
import TLS

// The end of a request's life: its commit's outcome, a shutdown that cannot wait, and the body budget.
extension Connection {
    /// The writer's answer for the request in `awaitingCommit`.
    func complete(_ outcome: DeliveryOutcome) {
        guard case .awaitingCommit(let clientID, let keepAlive, _) = state else { return }
        state = .reading
        worker.statistics.recordOutcome(outcome)
        guard let answer = Answer(outcome) else {
            // Neither "stored" nor "not stored" would be true: say nothing; the provider will retry.
            return close()
        }
        switch outcome {
        case .stored(let id), .duplicate(let id):
            // SPEC: last_seen_at follows accepted requests only (duplicates count as accepted).
            if let peer {
                worker.activity.seen(clientID: clientID, certificateNotAfter: peer.notAfter, now: worker.loop.now)
            }
            send(answer, keepAlive: keepAlive, deliveryID: id)
        case .unavailable, .refused, .unknown:
            send(answer, keepAlive: keepAlive)
        }
        guard state == .reading, !closeWhenFlushed else { return }
        setDeadline(.idle, worker.configuration.idleTimeout)
        processParser()
        if state == .reading { readAvailable() }
    }

    /// SIGTERM ran out of time: answer 503 now if a request is still in flight.
    func abortForShutdown() {
        switch state {
        case .awaitingCommit(_, _, let claim):
            // 503 only for a delivery no writer holds; one in a statement gets no answer rather than a
            // 503 that its commit could contradict.
            guard claim.withdraw() else { return close() }
            state = .reading
            send(.shuttingDown, keepAlive: false)
        case .reading where inFlight?.discarding == true:
            inFlight = nil
            closeAfterAnswer()
        case .reading where inFlight != nil:
            inFlight = nil
            send(.shuttingDown, keepAlive: false)
        default:
            close()
        }
    }

    // MARK: - Body budget and deadline

    /// The body's deadline: its progress timeout, but never past `--body-deadline` from its head.
    func armBodyDeadline() {
        setDeadline(.body, worker.configuration.bodyTimeout)
        if let limit = bodyDeadlineAt, limit < deadline { deadline = limit }
    }

    /// Called by the sweep: reads again once the body budget has room.
    func resumeIfBudgetAllows() {
        guard isPausedForBudget, worker.shared.budgets.room(for: clientShare) >= ReceiverBudgets.minimumRead else {
            return
        }
        isPausedForBudget = false
        updateInterest()
        readAvailable()
    }

    /// Gives this connection's body bytes back to the budget (the body was answered, stored or dropped).
    func releaseBody() {
        worker.shared.budgets.release(heldBytes, for: clientShare)
        heldBytes = 0
        bodyDeadlineAt = nil
        isPausedForBudget = false
    }
}
