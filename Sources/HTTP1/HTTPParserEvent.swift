/// What `HTTPRequestParser.next()` produced from the buffered bytes.
///
/// Every request yields exactly one `head`, then zero or more non-empty `body` chunks, then `end`.
package enum HTTPParserEvent: Sendable, Equatable {
    /// A complete, validated request head.
    case head(HTTPRequestHead)
    /// The next bytes of the body (for chunked bodies, decoded chunk data); never empty.
    case body([UInt8])
    /// The request is complete; the following bytes belong to the next pipelined request.
    case end
}
