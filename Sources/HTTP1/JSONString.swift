import Bytes

/// The one JSON string escaper (RFC 8259 §7): every JSON string webhookd writes — error bodies, the
/// `headers` column, `--json` output, JSON log lines — goes through it, so clients see one spelling.
package enum JSONString {
    /// Appends `text` as a quoted JSON string: `"` and `\` escaped; C0 controls, DEL and the C1 controls
    /// (U+0080–U+009F, which terminals act on) as `\n`-style or `\u00XX` escapes; everything else as UTF-8.
    package static func append(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { appendEscaped($0, to: &bytes) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// The string's content: runs that need no escape are copied whole (most header names and values are
    /// one run), so the per-byte work is one comparison chain, not one `append`.
    private static func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        var runStart = 0
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            // 0xC2 leads U+0080–U+00BF; only U+0080–U+009F (C1) is escaped.
            let isC1 = byte == 0xC2 && index + 1 < utf8.count && utf8[index + 1] <= 0x9F
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == 0x7F || isC1
            else {
                index += 1
                continue
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case 0x0A: bytes.append(contentsOf: #"\n"#.utf8)
            case 0x0D: bytes.append(contentsOf: #"\r"#.utf8)
            case 0x09: bytes.append(contentsOf: #"\t"#.utf8)
            case 0x08: bytes.append(contentsOf: #"\b"#.utf8)
            case 0x0C: bytes.append(contentsOf: #"\f"#.utf8)
            case 0xC2:
                index += 1
                appendEscape(utf8[index], to: &bytes)
            default: appendEscape(byte, to: &bytes)
            }
            index += 1
            runStart = index
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
    }

    /// `\u00XX` for a code point below U+0100.
    private static func appendEscape(_ value: UInt8, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: #"\u00"#.utf8)
        bytes.append(Hex.digit(value >> 4))
        bytes.append(Hex.digit(value & 0x0F))
    }

    /// `text` as a quoted JSON string.
    package static func quoted(_ text: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 2)
        append(text, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// True when `scalar` would be escaped as a control character (C0, DEL, C1).
    package static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
