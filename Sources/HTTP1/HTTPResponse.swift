/// A complete response (status, header fields, body) and its HTTP/1.1 wire encoding.
package struct HTTPResponse: Sendable, Equatable {
    /// The three-digit status code.
    package var status: Int
    /// Header fields in the order they are written. `Content-Length`, `Date`, `Connection` and
    /// `Transfer-Encoding` are owned by `encoded(keepAlive:date:)`; copies here are dropped.
    package var headers: [HTTPHeader]
    /// The body bytes, sent with a `Content-Length`.
    package var body: [UInt8]

    /// The interim response sent when a request has `expectsContinue` and the server wants the body.
    package static let continueBytes: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Creates a response.
    /// - Parameters:
    ///   - status: The three-digit status code.
    ///   - headers: Extra header fields, in order.
    ///   - body: The body bytes.
    package init(status: Int, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Encodes status line + headers (+ Content-Length, Date, Connection: keep-alive|close added here) + body.
    ///
    /// The status line always says `HTTP/1.1` (RFC 9110 §2.5: a server sends its highest version, also to
    /// HTTP/1.0 clients). 1xx and 204 responses get neither `Content-Length` nor a body (RFC 9110 §8.6).
    /// Header names are reduced to token characters and control bytes in values become spaces, so no
    /// caller-supplied text can split the response.
    /// - Parameters:
    ///   - keepAlive: Whether the connection stays open afterwards (`Connection: keep-alive`) or closes
    ///     (`Connection: close`).
    ///   - date: The `Date` header's value.
    package func encoded(keepAlive: Bool, date: HTTPDate) -> [UInt8] {
        let hasBody = !(100...199).contains(status) && status != 204
        var bytes: [UInt8] = []
        bytes.reserveCapacity(160 + headers.count * 48 + (hasBody ? body.count : 0))

        bytes.append(contentsOf: "HTTP/1.1 ".utf8)
        Self.appendDecimal(status, to: &bytes)
        bytes.append(ASCII.space)
        bytes.append(contentsOf: HTTPStatus.reasonPhrase(status).utf8)
        bytes.append(contentsOf: [ASCII.cr, ASCII.lf])

        for header in headers where !Self.isOwnedByEncoder(header.name) {
            for byte in header.name.utf8 where ASCII.isTokenCharacter(byte) { bytes.append(byte) }
            bytes.append(contentsOf: ": ".utf8)
            for byte in header.value.utf8 { bytes.append(ASCII.isFieldValueByte(byte) ? byte : ASCII.space) }
            bytes.append(contentsOf: [ASCII.cr, ASCII.lf])
        }
        if hasBody {
            bytes.append(contentsOf: "Content-Length: ".utf8)
            Self.appendDecimal(body.count, to: &bytes)
            bytes.append(contentsOf: [ASCII.cr, ASCII.lf])
        }
        bytes.append(contentsOf: "Date: ".utf8)
        date.appendIMFFixdate(to: &bytes)
        let connection = keepAlive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n"
        bytes.append(contentsOf: connection.utf8)
        if hasBody { bytes.append(contentsOf: body) }
        return bytes
    }

    /// Whether a header of this name is written by `encoded(keepAlive:date:)` itself.
    private static func isOwnedByEncoder(_ name: String) -> Bool {
        ASCII.equalsIgnoringCase(name, "content-length") || ASCII.equalsIgnoringCase(name, "date")
            || ASCII.equalsIgnoringCase(name, "connection") || ASCII.equalsIgnoringCase(name, "transfer-encoding")
    }

    /// Appends a non-negative integer in decimal without building a `String`.
    private static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var remaining = max(value, 0)
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(remaining / divisor))
            remaining %= divisor
            divisor /= 10
        }
    }
}
