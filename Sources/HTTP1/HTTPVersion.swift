/// The HTTP versions the parser accepts: `HTTP/1.0` and `HTTP/1.1`.
package enum HTTPVersion: Sendable, Equatable {
    /// `HTTP/1.0`: connections close after each response unless the client asks for `Connection: keep-alive`.
    case http10
    /// `HTTP/1.1`: persistent connections by default.
    case http11
}
