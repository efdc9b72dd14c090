/// The size limits the parser enforces on a request head (SPEC "Limits and timeouts").
///
/// Body size limits belong to the receiver (`--max-body-bytes`), which sees `BodyFraming` before the body.
package struct HTTPLimits: Sendable {
    /// The largest request head in bytes: request line, header lines and the empty line that ends the head.
    ///
    /// Empty lines skipped before the request line count too. A larger head fails with 431. The same budget
    /// applies separately to the trailer section of a chunked body.
    package var maxHeadBytes = 16_384
    /// The largest number of header field lines in a head (and of trailer lines in a chunked body); one more
    /// fails with 431.
    package var maxHeaderCount = 100

    /// Creates limits; the defaults are the SPEC's (16 KiB, 100 headers).
    /// - Parameters:
    ///   - maxHeadBytes: The largest request head in bytes, final CRLF included.
    ///   - maxHeaderCount: The largest number of header field lines.
    package init(maxHeadBytes: Int = 16_384, maxHeaderCount: Int = 100) {
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaderCount = maxHeaderCount
    }
}
