package import HTTP1
package import TLS

/// What a connection does with a request head, decided without I/O in SPEC's order:
/// 404 → 405 → 403 → 411/413 → 400 for bytes that cannot be stored exactly, then accept.
package enum HeadDecision: Equatable {
    /// 404/405 before authorization: answer now; `keepAlive` when the rest of the body may drain.
    case answerEarly(Answer, keepAlive: Bool)
    /// 403: record the refusal, answer, close; the body is never read.
    case refuse(RefusalReason, detail: String, endpoint: String)
    /// 503 `registry_unavailable`: the registry is too old to authorize anyone; close, nothing read.
    case registryUnavailable(endpoint: String)
    /// 429: over a per-client limit; nothing stored. `keepAlive` (rate only) when the body may drain.
    case throttle(Throttle, endpoint: String, clientID: String, keepAlive: Bool)
    /// 411/413 after authorization: answer and close.
    case reject(Answer, endpoint: String, clientID: String)
    /// Read the body for `clientID` on `endpoint`; send `100 Continue` first when asked and nothing is buffered.
    case accept(endpoint: String, clientID: String, idempotencyKey: String?, sendContinue: Bool)

    /// The path prefix of every webhook endpoint.
    package static let prefix = "/webhooks/"

    /// Decides what to do with `head`.
    /// - Parameters:
    ///   - bufferedBytes: bytes the parser already holds after the head (a pipelining client sent the body).
    ///   - authorize: checks the connection's certificate for the endpoint (re-verification after a reload,
    ///     then the registry) and returns the client id; called only for a POST to a valid endpoint.
    package static func decide(
        _ head: HTTPRequestHead, maxBodyBytes: Int, maxDrainBytes: Int, bufferedBytes: Int,
        authorize: (_ endpoint: String) -> Authorization
    ) -> HeadDecision {
        guard head.path.hasPrefix(prefix) else {
            return .answerEarly(.notFound, keepAlive: keepsAliveAfterEarlyAnswer(head, maxDrainBytes: maxDrainBytes))
        }
        let endpoint = String(head.path.dropFirst(prefix.count))
        guard EndpointName.isValid(endpoint) else {
            return .answerEarly(.notFound, keepAlive: keepsAliveAfterEarlyAnswer(head, maxDrainBytes: maxDrainBytes))
        }
        guard head.method == "POST" else {
            return .answerEarly(
                .methodNotAllowed, keepAlive: keepsAliveAfterEarlyAnswer(head, maxDrainBytes: maxDrainBytes))
        }
        let clientID: String
        switch authorize(endpoint) {
        case .granted(let id): clientID = id
        case .refused(let refusal): return .refuse(refusal.reason, detail: refusal.detail, endpoint: endpoint)
        case .registryUnavailable: return .registryUnavailable(endpoint: endpoint)
        case .throttled(let throttle, let id):
            let keepAlive: Bool
            switch throttle {
            case .rateLimited: keepAlive = keepsAliveAfterEarlyAnswer(head, maxDrainBytes: maxDrainBytes)
            case .tooManyConnections: keepAlive = false
            }
            return .throttle(throttle, endpoint: endpoint, clientID: id, keepAlive: keepAlive)
        }
        switch head.framing {
        case .none:
            return .reject(.lengthRequired, endpoint: endpoint, clientID: clientID)
        case .contentLength(let length) where length > maxBodyBytes:
            return .reject(.payloadTooLarge(limit: maxBodyBytes), endpoint: endpoint, clientID: clientID)
        case .contentLength, .chunked:
            break
        }
        // Bytes are kept or refused: a key or header value that cannot be stored exactly is a 400.
        switch IdempotencyKey.of(head) {
        case .success(let key):
            return .accept(
                endpoint: endpoint, clientID: clientID, idempotencyKey: key,
                sendContinue: head.expectsContinue && bufferedBytes == 0)
        case .failure(let problem):
            return .reject(.badBytes(problem), endpoint: endpoint, clientID: clientID)
        }
    }

    /// After a 404/405 the connection stays open only if the body can be drained cheaply (≤ `maxDrainBytes`
    /// announced) and the client will not misread it: not for `Expect: 100-continue` (it waits for a
    /// go-ahead that never comes) or HEAD (it expects no body after our head).
    package static func keepsAliveAfterEarlyAnswer(_ head: HTTPRequestHead, maxDrainBytes: Int) -> Bool {
        if case .contentLength(let length) = head.framing, length > maxDrainBytes { return false }
        return head.keepAlive && !head.expectsContinue && head.method != "HEAD"
    }
}

/// The 403 step's outcome for one request.
package enum Authorization: Equatable {
    /// The client id the certificate is authorized as.
    case granted(String)
    case refused(Refusal)
    /// The registry snapshot is older than `--registry-max-age`: nobody can be authorized.
    case registryUnavailable
    /// Authorized as this client, but over one of its limits.
    case throttled(Throttle, clientID: String)
}

/// Why a certificate may not post: the SPEC reason code and the detail stored in `rejections`.
package struct Refusal: Error, Equatable {
    package var reason: RefusalReason
    package var detail: String

    package init(reason: RefusalReason, detail: String) {
        self.reason = reason
        self.detail = detail
    }
}
