// MARK: - Framing and connection semantics

extension HTTPRequestHead {
    /// Builds a head from a parsed request line and header fields, deciding body framing strictly.
    ///
    /// The strictness is where request smuggling lives (RFC 9112 §6.1, §6.3): anything two parsers could read
    /// differently is refused with 400 instead of guessed.
    /// - Throws: `HTTPParseError` with `.badRequest` for conflicting or unsupported framing, or a missing or
    ///   repeated `Host`.
    static func validated(
        method: String,
        target: String,
        version: HTTPVersion,
        headers: [HTTPHeader]
    ) throws(HTTPParseError) -> HTTPRequestHead {
        var transferEncodings: [String] = []
        var contentLength: Int?
        var hostCount = 0
        var keepAliveToken = false
        var closeToken = false
        var expectsContinue = false
        for header in headers {
            let name = header.name
            if ASCII.equalsIgnoringCase(name, "content-length") {
                let length = try parseContentLength(header.value)
                // RFC 9112 §6.3: repeated identical values may be merged; differing ones are unrecoverable.
                if let previous = contentLength, previous != length {
                    throw .badRequest("The request has conflicting Content-Length values.")
                }
                contentLength = length
            } else if ASCII.equalsIgnoringCase(name, "transfer-encoding") {
                transferEncodings += ASCII.listElements(header.value)
            } else if ASCII.equalsIgnoringCase(name, "host") {
                hostCount += 1
            } else if ASCII.equalsIgnoringCase(name, "connection") {
                for option in ASCII.listElements(header.value) {
                    if ASCII.equalsIgnoringCase(option, "close") { closeToken = true }
                    if ASCII.equalsIgnoringCase(option, "keep-alive") { keepAliveToken = true }
                }
            } else if ASCII.equalsIgnoringCase(name, "expect") {
                if ASCII.equalsIgnoringCase(header.value, "100-continue") { expectsContinue = true }
            }
        }

        // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host and to any request with
        // more than one Host line (nginx does the same).
        if hostCount > 1 {
            throw .badRequest("The request has more than one Host header.")
        }
        if hostCount == 0 && version == .http11 {
            throw .badRequest("The HTTP/1.1 request has no Host header.")
        }

        let framing: BodyFraming
        if !transferEncodings.isEmpty {
            // RFC 9112 §6.1: Transfer-Encoding in 1.0 is a smuggling vector; with Content-Length it is ambiguous.
            if version == .http10 {
                throw .badRequest("Transfer-Encoding is not allowed in an HTTP/1.0 request.")
            }
            if contentLength != nil {
                throw .badRequest("The request has both Content-Length and Transfer-Encoding.")
            }
            guard transferEncodings.count == 1, ASCII.equalsIgnoringCase(transferEncodings[0], "chunked") else {
                throw .badRequest("The only supported Transfer-Encoding is chunked.")
            }
            framing = .chunked
        } else if let contentLength {
            framing = .contentLength(contentLength)
        } else {
            framing = .none
        }

        let keepAlive = version == .http11 ? !closeToken : keepAliveToken && !closeToken
        return HTTPRequestHead(
            method: method,
            target: target,
            version: version,
            headers: headers,
            framing: framing,
            keepAlive: keepAlive,
            expectsContinue: expectsContinue && version == .http11
        )
    }

    /// The length in one `Content-Length` field value: ASCII digits, or a comma list of identical ones.
    /// - Throws: `HTTPParseError` with `.badRequest` for a sign, space inside, empty element, differing list
    ///   elements, or a value beyond `Int.max`.
    private static func parseContentLength(_ value: String) throws(HTTPParseError) -> Int {
        var result: Int?
        for element in ASCII.listElements(value) {
            guard !element.isEmpty, element.utf8.allSatisfy(ASCII.isDigit) else {
                throw .badRequest("The Content-Length header is not a decimal number.")
            }
            var length = 0
            for digit in element.utf8 {
                let (shifted, overflowA) = length.multipliedReportingOverflow(by: 10)
                let (sum, overflowB) = shifted.addingReportingOverflow(Int(digit &- UInt8(ascii: "0")))
                if overflowA || overflowB {
                    throw .badRequest("The Content-Length header is too large.")
                }
                length = sum
            }
            if let result, result != length {
                throw .badRequest("The request has conflicting Content-Length values.")
            }
            result = length
        }
        guard let result else {
            throw .badRequest("The Content-Length header is not a decimal number.")
        }
        return result
    }
}
