/// Byte constants and character classes from RFC 9110 §5.6 and RFC 9112, shared by the parser and the encoder.
///
/// Everything here works on single `UInt8` values so the hot loops never build a `Character`.
enum ASCII {
    /// Carriage return, `\r`.
    static let cr: UInt8 = 0x0D
    /// Line feed, `\n`.
    static let lf: UInt8 = 0x0A
    /// Space.
    static let space: UInt8 = 0x20
    /// Horizontal tab.
    static let tab: UInt8 = 0x09
    /// `:` between a field name and its value.
    static let colon: UInt8 = 0x3A
    /// `;` before a chunk extension.
    static let semicolon: UInt8 = 0x3B
    /// `,` between list elements.
    static let comma: UInt8 = 0x2C
    /// `?` between path and query.
    static let questionMark: UInt8 = 0x3F
    /// DEL, a control byte above the printable range.
    static let delete: UInt8 = 0x7F

    /// Whether `byte` is a `tchar` (RFC 9110 §5.6.2), the alphabet of methods and field names.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Whether `byte` is optional whitespace (`OWS`: SP or HTAB).
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    /// Whether `byte` may appear in a field value: VCHAR, obs-text (0x80–0xFF), SP or HTAB.
    ///
    /// Every other control byte, NUL and DEL included, is refused (RFC 9110 §5.5).
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte >= space ? byte != delete : byte == tab
    }

    /// Whether `byte` is an ASCII decimal digit.
    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// The value of a hexadecimal digit, or `nil` when `byte` is not one.
    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte &- UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte &- UInt8(ascii: "A")) + 10
        default: return nil
        }
    }

    /// `byte` with A–Z mapped to a–z; every other byte unchanged.
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// Whether two UTF-8 strings are equal ignoring ASCII case, without allocating.
    static func equalsIgnoringCase(_ lhs: String, _ rhs: String) -> Bool {
        // Most comparisons are a header name against a known one of another length.
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        let contiguous = lhs.utf8.withContiguousStorageIfAvailable { left in
            rhs.utf8.withContiguousStorageIfAvailable { right in
                for index in 0..<left.count where lowercased(left[index]) != lowercased(right[index]) {
                    return false
                }
                return true
            }
        }
        if let contiguous, let equal = contiguous { return equal }
        return lhs.utf8.elementsEqual(rhs.utf8) { lowercased($0) == lowercased($1) }
    }

    /// The elements of a comma-separated field value (RFC 9110 §5.6.1), each with surrounding OWS trimmed.
    ///
    /// Works on bytes, not `Character`s, so a combining mark after a comma cannot hide the separator. Empty
    /// elements are kept, so callers that must be strict can refuse `chunked,` or `5,,5`.
    static func listElements(_ value: String) -> [String] {
        var elements: [String] = []
        let bytes = value.utf8
        var start = bytes.startIndex
        while true {
            let end = bytes[start...].firstIndex(of: comma) ?? bytes.endIndex
            elements.append(trimmingWhitespace(bytes[start..<end]))
            guard end < bytes.endIndex else { return elements }
            start = bytes.index(after: end)
        }
    }

    /// The bytes decoded as UTF-8 with leading and trailing SP/HTAB removed.
    static func trimmingWhitespace(_ bytes: Substring.UTF8View) -> String {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, isWhitespace(bytes[start]) { start = bytes.index(after: start) }
        while end > start, isWhitespace(bytes[bytes.index(before: end)]) { end = bytes.index(before: end) }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
