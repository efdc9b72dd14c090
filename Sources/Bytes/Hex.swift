/// The one hex encoder: digests, serial numbers, UUIDs, JSON `\u00XX` escapes and hex dumps all use it.
// Public, for its `@inlinable` generics: Swift 6.3 did not specialise an `@inlinable package` generic in
// client modules (each delivery's SHA-256 went through the unspecialised `Hex.string`, ≈ 7k instructions).
public enum Hex {
    /// The hex digit for a value in 0...15 (only the low four bits are used).
    @inlinable
    public static func digit(_ value: UInt8, uppercase: Bool = false) -> UInt8 {
        let nibble = value & 0x0F
        return nibble < 10 ? 0x30 + nibble : (uppercase ? 0x41 : 0x61) + nibble - 10
    }

    /// Appends two hex digits per byte of `bytes` to `output`.
    @inlinable
    public static func append(_ bytes: some Sequence<UInt8>, uppercase: Bool = false, to output: inout [UInt8]) {
        for byte in bytes {
            output.append(digit(byte >> 4, uppercase: uppercase))
            output.append(digit(byte, uppercase: uppercase))
        }
    }

    /// Two hex digits per byte, lower-case unless asked otherwise.
    @inlinable
    public static func string(_ bytes: some Sequence<UInt8>, uppercase: Bool = false) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.underestimatedCount * 2)
        append(bytes, uppercase: uppercase, to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// `value` as exactly `width` hex digits (the low `width * 4` bits), for offsets and fixed fields.
    package static func string(_ value: UInt64, width: Int) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(width)
        for shift in stride(from: (width - 1) * 4, through: 0, by: -4) {
            output.append(digit(UInt8(truncatingIfNeeded: value >> UInt64(shift))))
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes of `text`, two hex digits (either case) per byte; nil for an odd length or a non-hex character.
    package static func bytes(_ text: some Collection<UInt8>) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var output: [UInt8] = []
        output.reserveCapacity(text.count / 2)
        var high: UInt8?
        for digit in text {
            guard let nibble = value(digit) else { return nil }
            if let first = high {
                output.append(first << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return output
    }
}
