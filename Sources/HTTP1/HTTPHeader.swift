/// One header field line of a request or response, as it travels on the wire.
///
/// Requests keep every field in arrival order, duplicates included (SPEC: `deliveries.headers` stores them all).
package struct HTTPHeader: Sendable, Equatable {
    /// The field name exactly as received (case kept); compare it case-insensitively.
    package var name: String
    /// The field value with surrounding optional whitespace (SP/HTAB) removed.
    ///
    /// Bytes above 0x7F (obs-text) are kept and decoded as UTF-8; invalid sequences become U+FFFD.
    package var value: String

    /// Creates a header field.
    /// - Parameters:
    ///   - name: The field name; it should be a token (RFC 9110 §5.1).
    ///   - value: The field value, without surrounding whitespace.
    package init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
