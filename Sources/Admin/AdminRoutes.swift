package import HTTP1

/// The admin listener's answers (SPEC "Admin listener"): `/healthz`, `/readyz`, `/metrics`; 404 for any
/// other path, 405 for another method. No I/O: the listener feeds it the parsed head.
package enum AdminRoutes {
    /// The Prometheus text exposition format's content type.
    package static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The answer to one request.
    ///
    /// - Parameters:
    ///   - method: the request method (only `GET` is served).
    ///   - path: the request path, without the query.
    ///   - readiness: what `/readyz` reports; asked only for `/readyz`.
    ///   - metrics: renders `/metrics`; called only for `/metrics`.
    /// - Returns: the response to send.
    package static func response(
        method: String, path: String, readiness: () -> Readiness.Status, metrics: () -> [UInt8]
    ) -> HTTPResponse {
        let known = ["/healthz", "/readyz", "/metrics"]
        guard known.contains(path) else {
            return .error(
                status: 404, code: "not_found", message: "The admin listener serves /healthz, /readyz and /metrics.")
        }
        guard method == "GET" else {
            return .error(
                status: 405, code: "method_not_allowed", message: "The admin endpoints accept GET only.",
                headers: [HTTPHeader(name: "Allow", value: "GET")])
        }
        switch path {
        case "/healthz":
            return .json(status: 200, #"{"status":"alive"}"#)
        case "/readyz":
            switch readiness() {
            case .ready:
                return .json(status: 200, #"{"status":"ready"}"#)
            case .unavailable(let reason):
                var body: [UInt8] = Array(#"{"status":"unavailable","reason":"#.utf8)
                JSONString.append(reason, to: &body)
                body.append(UInt8(ascii: "}"))
                return .json(status: 503, String(decoding: body, as: UTF8.self))
            }
        default:
            return HTTPResponse(
                status: 200, headers: [HTTPHeader(name: "Content-Type", value: metricsContentType)], body: metrics())
        }
    }
}
