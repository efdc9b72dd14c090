/// One header field line of a request or response, as it travels on the wire.
///
/// Requests keep every field in arrival order, duplicates included (SPEC: `deliveries.headers` stores them all).
package struct HTTPHeader: Sendable, Equatable {
    /// The field name exactly as received (case kept); compare it case-insensitively.
    package var name: String
    /// The field value with surrounding optional whitespace (SP/HTAB) removed.
    ///
    /// Bytes above 0x7F (obs-text) are decoded as UTF-8. When they are not valid UTF-8, `valueIsUTF8` is
    /// false and `value` is only a readable approximation: the receiver refuses such a request rather
    /// than store or compare a replaced value.
    package var value: String
    /// False when the value's bytes were not valid UTF-8.
    package var valueIsUTF8: Bool

    /// Creates a header field.
    /// - Parameters:
    ///   - name: The field name; it should be a token (RFC 9110 §5.1).
    ///   - value: The field value, without surrounding whitespace.
    package init(name: String, value: String, valueIsUTF8: Bool = true) {
        self.name = name
        self.value = value
        self.valueIsUTF8 = valueIsUTF8
    }
}
