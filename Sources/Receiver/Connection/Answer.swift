package import HTTP1
package import TLS

/// Every answer the webhook port gives, and its exact bytes (SPEC "HTTP answers"). The connection picks
/// one; this is the only place a status, error code, message or Retry-After is spelled.
package enum Answer: Equatable {
    case stored(id: String)
    case duplicate(id: String)
    /// The path is not `/webhooks/<endpoint>` with a valid endpoint name.
    case notFound
    case methodNotAllowed
    case forbidden(RefusalReason)
    case lengthRequired
    case payloadTooLarge(limit: Int)
    case requestTimeout
    /// A key or header value that cannot be stored exactly (400, before the body is read).
    case badBytes(IdempotencyKey.Problem)
    /// The request could not be parsed (400, 431, 501, …).
    case malformed(HTTPParseError)
    /// Not stored: the database is unreachable or the commit did not return in time.
    case databaseUnavailable
    /// Not stored: the server is stopping.
    case shuttingDown
    /// Not stored: the client registry could not be refreshed for `--registry-max-age`.
    case registryUnavailable
    /// Not stored: the body could not be read in time because `--max-buffered-bytes` were held.
    case overCapacity
    /// Not stored: the client is over its limits (429).
    case throttled(Throttle)
    /// The database refused the row's data: not stored, and retrying the same bytes will not help.
    case deliveryRefused

    /// Seconds a client is asked to wait before it retries a 503.
    package static let retryAfterSeconds = 5

    /// The answer for a writer's outcome; nil when no answer would be true (the outcome is unknown).
    package init?(_ outcome: DeliveryOutcome) {
        switch outcome {
        case .stored(let id): self = .stored(id: id)
        case .duplicate(let id): self = .duplicate(id: id)
        case .unavailable: self = .databaseUnavailable
        case .refused: self = .deliveryRefused
        case .unknown: return nil
        }
    }

    package var response: HTTPResponse {
        switch self {
        case .stored(let id):
            return .json(status: 200, #"{"delivery_id":"\#(id)","duplicate":false}"#)
        case .duplicate(let id):
            return .json(status: 200, #"{"delivery_id":"\#(id)","duplicate":true}"#)
        case .notFound:
            return .error(status: 404, code: "not_found", message: "There is no webhook endpoint at this path.")
        case .methodNotAllowed:
            return .error(
                status: 405, code: "method_not_allowed", message: "Webhook endpoints accept POST only.",
                headers: [HTTPHeader(name: "Allow", value: "POST")])
        case .forbidden(let reason):
            // A signature refusal is about this request, not the client's grant: say so.
            let message =
                switch reason {
                case .signatureMissing: "This client must sign its requests; no signature was sent."
                case .signatureInvalid: "The request's signature does not match its body."
                case .signatureExpired: "The request's signature timestamp is outside the allowed tolerance."
                default: "This client is not authorized for this endpoint."
                }
            return .error(status: 403, code: reason.code, message: message)
        case .lengthRequired:
            return .error(
                status: 411, code: "length_required", message: "A webhook needs Content-Length or chunked encoding.")
        case .payloadTooLarge(let limit):
            return .error(status: 413, code: "payload_too_large", message: "The body is larger than \(limit) bytes.")
        case .requestTimeout:
            return .error(status: 408, code: "request_timeout", message: "The request was not finished in time.")
        case .badBytes(.invalidKey(let header, let why)):
            return .error(status: 400, code: "invalid_idempotency_key", message: "The \(header) header \(why).")
        case .badBytes(.headerNotUTF8(let header)):
            return .error(
                status: 400, code: "bad_request", message: "The \(header) header value is not valid UTF-8.")
        case .malformed(let error):
            return .error(status: error.status, code: error.code.name, message: error.message)
        case .databaseUnavailable:
            return Self.retryLater(
                code: "database_unavailable", message: "The delivery could not be stored; retry later.")
        case .shuttingDown:
            return Self.retryLater(code: "shutting_down", message: "The server is shutting down; retry later.")
        case .throttled(.rateLimited(let seconds)):
            return .error(
                status: 429, code: "rate_limited", message: "This client is over its request rate; retry later.",
                headers: [HTTPHeader(name: "Retry-After", value: "\(seconds)")])
        case .throttled(.tooManyConnections):
            return .error(
                status: 429, code: "too_many_connections",
                message: "This client has too many connections open; use fewer.",
                headers: [HTTPHeader(name: "Retry-After", value: "\(Self.retryAfterSeconds)")])
        case .overCapacity:
            return Self.retryLater(
                code: "over_capacity", message: "The server is holding too many bodies; retry later.")
        case .registryUnavailable:
            return Self.retryLater(
                code: "registry_unavailable", message: "Clients cannot be authorized right now; retry later.")
        case .deliveryRefused:
            return .error(
                status: 400, code: "delivery_refused",
                message: "The database cannot store this delivery as sent; it was not stored.")
        }
    }

    /// The one 503: nothing was stored, try again after `Retry-After`.
    private static func retryLater(code: String, message: String) -> HTTPResponse {
        .error(
            status: 503, code: code, message: message,
            headers: [HTTPHeader(name: "Retry-After", value: "\(retryAfterSeconds)")])
    }
}
