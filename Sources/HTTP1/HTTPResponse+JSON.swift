// MARK: - JSON responses

extension HTTPResponse {
    /// A response whose body is `json`, with `Content-Type: application/json` before `headers`.
    /// - Parameters:
    ///   - status: The three-digit status code.
    ///   - json: The JSON text; it is sent as is, not validated.
    ///   - headers: Extra header fields, after `Content-Type`.
    package static func json(status: Int, _ json: String, headers: [HTTPHeader] = []) -> HTTPResponse {
        HTTPResponse(
            status: status,
            headers: [HTTPHeader(name: "Content-Type", value: "application/json")] + headers,
            body: Array(json.utf8)
        )
    }

    /// The SPEC's error response: body `{"error":"<code>","message":"<message>"}` with both strings escaped.
    /// - Parameters:
    ///   - status: The three-digit status code.
    ///   - code: The short snake_case error code (for parse errors, `HTTPParseError.code.name`).
    ///   - message: One sentence for a person; it must not contain server internals.
    ///   - headers: Extra header fields, such as `Allow: POST` or `Retry-After: 5`.
    package static func error(status: Int, code: String, message: String, headers: [HTTPHeader] = []) -> HTTPResponse {
        var body: [UInt8] = []
        body.reserveCapacity(32 + code.utf8.count + message.utf8.count)
        body.append(contentsOf: #"{"error":"#.utf8)
        JSONString.append(code, to: &body)
        body.append(contentsOf: #","message":"#.utf8)
        JSONString.append(message, to: &body)
        body.append(UInt8(ascii: "}"))
        return HTTPResponse(
            status: status,
            headers: [HTTPHeader(name: "Content-Type", value: "application/json")] + headers,
            body: body
        )
    }
}
