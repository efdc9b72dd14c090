/// A validated request line plus header fields, with the framing and connection semantics derived from them.
package struct HTTPRequestHead: Sendable, Equatable {
    /// The method token, case kept (`POST`).
    package var method: String
    /// The raw request-target exactly as sent (visible ASCII only).
    package var target: String
    /// `target` up to the first `?`; no percent-decoding (SPEC: endpoints match on the raw path).
    package var path: String
    /// `target` after the first `?`: `""` for `/x?`, `nil` when there is no `?` (SPEC: `query` null when absent).
    package var query: String?
    /// The protocol version from the request line.
    package var version: HTTPVersion
    /// Every header field in arrival order, duplicates kept.
    package var headers: [HTTPHeader]
    /// How the body is delimited.
    package var framing: BodyFraming
    /// Whether the connection may stay open after the response: HTTP/1.1 unless a `Connection` header lists
    /// `close`; HTTP/1.0 only when it lists `keep-alive` (and not `close`).
    package var keepAlive: Bool
    /// Whether the client sent `Expect: 100-continue` and waits for an interim `100 Continue` before the body.
    ///
    /// Always `false` for HTTP/1.0, which must ignore the expectation (RFC 9110 §10.1.1). Other expectations
    /// are ignored.
    package var expectsContinue: Bool

    /// Creates a head, splitting `target` into `path` and `query`.
    /// - Parameters:
    ///   - method: The method token.
    ///   - target: The raw request-target.
    ///   - version: The protocol version.
    ///   - headers: The header fields in arrival order.
    ///   - framing: How the body is delimited.
    ///   - keepAlive: Whether the connection may be reused.
    ///   - expectsContinue: Whether the client waits for `100 Continue`.
    package init(
        method: String,
        target: String,
        version: HTTPVersion,
        headers: [HTTPHeader],
        framing: BodyFraming,
        keepAlive: Bool,
        expectsContinue: Bool
    ) {
        self.method = method
        self.target = target
        if let mark = target.utf8.firstIndex(of: ASCII.questionMark) {
            self.path = String(target[..<mark])
            self.query = String(target[target.utf8.index(after: mark)...])
        } else {
            self.path = target
            self.query = nil
        }
        self.version = version
        self.headers = headers
        self.framing = framing
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
    }

    /// The value of the first header whose name matches `name` ignoring ASCII case, or `nil`.
    /// - Parameter name: The field name to look for, in any case.
    package func firstValue(of name: String) -> String? {
        firstHeader(named: name)?.value
    }

    /// The first header whose name matches `name` ignoring ASCII case, or `nil`.
    package func firstHeader(named name: String) -> HTTPHeader? {
        headers.first { ASCII.equalsIgnoringCase($0.name, name) }
    }

    /// The values of every header whose name matches `name` ignoring ASCII case, in arrival order.
    /// - Parameter name: The field name to look for, in any case.
    package func values(of name: String) -> [String] {
        headers.compactMap { ASCII.equalsIgnoringCase($0.name, name) ? $0.value : nil }
    }
}
