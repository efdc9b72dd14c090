import HTTP1
import Logging
import Posix
import TLS

// The 403 and 429 steps of a request: re-verification, the registry snapshot, per-client limits, and
// what a refusal leaves in the log.
extension Connection {
    func noteAuthorized(endpoint: String, clientID: String) {
        record?.endpoint = endpoint
        record?.clientID = clientID
        // The label names an endpoint only when the client was granted it by name (not only through `*`).
        record?.metricsEndpoint = authorizedGrant?.endpoints.contains(endpoint) == true ? endpoint : "*"
    }

    /// A 400 for bytes that cannot be stored names the header, never its value.
    func logRefusal(_ problem: IdempotencyKey.Problem, clientID: String) {
        let (code, header): (String, String)
        switch problem {
        case .invalidKey(let name, _): (code, header) = ("invalid_idempotency_key", name)
        case .headerNotUTF8(let name): (code, header) = ("bad_request", name)
        }
        worker.logger.info(
            "request refused",
            metadata: ["reason": "\(code)", "header": "\(header)", "client": "\(clientID)", "peer": "\(remote)"])
    }

    /// The 403 step for `endpoint`: the certificate re-verified after a reload, then the registry.
    func authorize(_ endpoint: String) -> Authorization {
        guard let peer else {
            // A completed handshake always has a verified peer (SSL_VERIFY_FAIL_IF_NO_PEER_CERT).
            return .refused(Refusal(reason: .noCertificate, detail: "no client certificate on an established session"))
        }
        // SPEC: after a reload, the next request on an older connection re-verifies its certificate
        // against the new CA bundle and CRLs; a failure is a 403 with the verify reason, and the end.
        let current = worker.shared.tlsContext.context
        // A CRL past its nextUpdate no longer vouches for anyone: open keep-alive connections and resumed
        // sessions (which skip the chain check) are verified again, and refused with crl_stale.
        let crlStale = current.earliestCRLNextUpdate.map { worker.wallClockSeconds >= $0 } ?? false
        if verifiedContext !== current || crlStale, let tls {
            if let failure = tls.reverify(against: current) {
                return .refused(Refusal(reason: failure.reason, detail: failure.detail))
            }
            verifiedContext = current
        }
        authorizedGrant = nil
        let snapshot = worker.authorization.snapshot
        // Fail closed: a registry we cannot refresh may still list a client that was disabled or removed.
        guard snapshot.isFresh(at: worker.loop.now, maxAge: worker.configuration.registryMaxAge) else {
            return .registryUnavailable
        }
        switch snapshot.authorize(peer, endpoint: endpoint, now: worker.wallClockSeconds) {
        case .success(let id):
            authorizedGrant = snapshot.grants[ClientKey(id)]
            if let throttle = throttle(id, grant: authorizedGrant) {
                return .throttled(throttle, clientID: id)
            }
            return .granted(id)
        case .failure(let reason):
            return .refused(Refusal(reason: reason, detail: Rejection.detail(for: reason, endpoint: endpoint)))
        }
    }

    /// A required signature that is missing, invalid or expired: a 403 like every other refusal (logged,
    /// counted, stored in `rejections`), nothing stored, and the connection closes.
    func refuseSignature(_ reason: RefusalReason, flight: InFlight) {
        let detail: String
        switch reason {
        case .signatureMissing: detail = "the request carries no signature"
        case .signatureExpired: detail = "the signature's timestamp is outside --signature-tolerance"
        default: detail = "the signature matches none of the client's secrets"
        }
        worker.rejections.record(
            Rejection(
                stage: .authorization, reason: reason, detail: detail, remoteAddress: remote.host,
                clientID: flight.clientID, endpoint: flight.endpoint, certificate: peer))
        send(.forbidden(reason), keepAlive: false)
    }

    /// The per-client limits, after authorization: this connection counts against the client's
    /// `max_connections` from its first request on, and each request takes a token of its rate.
    func throttle(_ clientID: String, grant: ClientGrant?) -> Throttle? {
        let key = ClientKey(clientID)
        if countedClient != key {
            if let previous = countedClient { worker.shared.throttle.releaseConnection(previous) }
            countedClient = nil
            let limit = grant?.maxConnections ?? worker.configuration.clientMaxConnections
            guard worker.shared.throttle.admitConnection(key, limit: limit) else { return .tooManyConnections }
            countedClient = key
            // Held bytes are never moved between clients: a connection learns its client before any body.
            if clientShare == nil { clientShare = worker.shared.budgets.share(for: key) }
        }
        guard let rate = grant?.ratePerSecond else { return nil }
        let burst = grant?.burst ?? max(1, Int(rate.rounded(.up)))
        return worker.shared.throttle.admitRequest(key, rate: rate, burst: burst, now: worker.loop.now)
    }

    /// The `detail` stored with a throttled request.
    static func throttleDetail(_ throttle: Throttle) -> String {
        switch throttle {
        case .rateLimited(let seconds): "over the client's rate_per_second; retry after \(seconds) s"
        case .tooManyConnections: "the client already has max_connections open"
        }
    }
}
