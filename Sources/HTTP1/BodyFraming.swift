/// How the length of a request body is determined (RFC 9112 §6.3).
package enum BodyFraming: Sendable, Equatable {
    /// Neither `Content-Length` nor `Transfer-Encoding` was sent: the request has no body.
    ///
    /// The receiver answers 411 to a `POST` framed like this; the parser itself accepts it.
    case none
    /// A `Content-Length` body of exactly this many bytes (possibly 0).
    case contentLength(Int)
    /// `Transfer-Encoding: chunked`: the length is unknown until the last chunk.
    case chunked
}
