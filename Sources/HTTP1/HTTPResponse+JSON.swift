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
        appendJSONString(code, to: &body)
        body.append(contentsOf: #","message":"#.utf8)
        appendJSONString(message, to: &body)
        body.append(UInt8(ascii: "}"))
        return HTTPResponse(
            status: status,
            headers: [HTTPHeader(name: "Content-Type", value: "application/json")] + headers,
            body: body
        )
    }

    /// Appends `string` as a quoted JSON string (RFC 8259 §7): `"` and `\` escaped, control characters as
    /// `\n`-style or `\u00XX` escapes, everything else as UTF-8.
    static func appendJSONString(_ string: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case 0x0A: bytes.append(contentsOf: #"\n"#.utf8)
            case 0x0D: bytes.append(contentsOf: #"\r"#.utf8)
            case 0x09: bytes.append(contentsOf: #"\t"#.utf8)
            case 0x08: bytes.append(contentsOf: #"\b"#.utf8)
            case 0x0C: bytes.append(contentsOf: #"\f"#.utf8)
            case 0x00..<0x20:
                bytes.append(contentsOf: #"\u00"#.utf8)
                bytes.append(hexDigit(byte >> 4))
                bytes.append(hexDigit(byte & 0x0F))
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// The lower-case hexadecimal digit for a value in 0...15.
    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
