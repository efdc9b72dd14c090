/// The deadline a connection runs against, and what happens when it passes. Pure: the connection asks
/// what to arm and what to do; it owns the clock and the socket.
package enum DeadlineKind: Equatable {
    case handshake, header, idle, body, write, linger
    /// 404/405 answered: the rest of the body may drain until this (≤ 1 s), then the connection closes.
    case discard
    /// A delivery waits for its commit; past this it is withdrawn and answered 503 if no writer took it.
    case commit
    /// A writer took it and its statement outlived every bound: close without an answer (a bug guard).
    case commitOverdue
}

/// Where the connection is, as far as its deadlines care.
package struct DeadlineSituation: Equatable {
    package enum Body: Equatable {
        /// No request body in progress.
        case none
        /// A request's body is being read.
        case reading
        /// A body is drained after an early 404/405.
        case discarding
    }
    package var body: Body
    /// Bytes the parser holds that are not yet a whole head.
    package var bufferedBytes: Int
    /// Requests seen on this connection so far.
    package var requestCount: Int
    package var awaitingCommit: Bool
    /// Reading is paused because `--max-buffered-bytes` are held (the client may be sending fine).
    package var pausedForBudget: Bool

    package init(
        body: Body, bufferedBytes: Int, requestCount: Int, awaitingCommit: Bool, pausedForBudget: Bool = false
    ) {
        self.body = body
        self.bufferedBytes = bufferedBytes
        self.requestCount = requestCount
        self.awaitingCommit = awaitingCommit
        self.pausedForBudget = pausedForBudget
    }
}

package enum ConnectionDeadline {
    /// What to arm while the parser waits for bytes: nil keeps the current deadline.
    ///
    /// A body in progress keeps its body (or discard) deadline; a head that has begun must complete within
    /// the header timeout; between requests the idle timeout runs. A deadline already of the right kind is
    /// kept, so slow progress does not extend a header deadline.
    package static func whileWaiting(_ situation: DeadlineSituation, current: DeadlineKind) -> DeadlineKind? {
        switch situation.body {
        case .discarding: return .discard
        case .reading: return current == .body ? nil : .body
        case .none: break
        }
        if situation.bufferedBytes > 0 { return current == .header ? nil : .header }
        if situation.requestCount > 0 { return current == .idle ? nil : .idle }
        return nil
    }

    /// What the connection does when `kind` passed.
    package enum Expiry: Equatable {
        /// Close now (nothing to say, or nobody to say it to).
        case close
        /// The handshake took too long: count it, close.
        case handshakeTimedOut
        /// The early answer is out; the undrained body ends the connection, without a second answer.
        case endAfterAnswer
        /// Answer this and close.
        case answer(Answer)
    }

    package static func expired(_ kind: DeadlineKind, _ situation: DeadlineSituation) -> Expiry {
        switch kind {
        case .handshake: return .handshakeTimedOut
        case .idle, .linger, .write, .commitOverdue: return .close
        case .discard: return .endAfterAnswer
        case .commit: return situation.awaitingCommit ? .answer(.databaseUnavailable) : .close
        case .header where situation.body == .none && situation.bufferedBytes == 0:
            // Nothing of a request arrived: close quietly rather than answer a request never sent (a pooled
            // client would take a 408 as the answer to its next request).
            return .close
        case .body where situation.pausedForBudget: return .answer(.overCapacity)
        case .header, .body: return .answer(.requestTimeout)
        }
    }
}
