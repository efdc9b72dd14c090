/// The one hex encoder: digests, serial numbers, UUIDs, JSON `\u00XX` escapes and hex dumps all use it.
package enum Hex {
    private static let lower: [UInt8] = Array("0123456789abcdef".utf8)
    private static let upper: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// The hex digit for a value in 0...15.
    @inline(__always)
    package static func digit(_ value: UInt8, uppercase: Bool = false) -> UInt8 {
        (uppercase ? upper : lower)[Int(value & 0x0F)]
    }

    /// Appends two hex digits per byte of `bytes` to `output`.
    package static func append(_ bytes: some Sequence<UInt8>, uppercase: Bool = false, to output: inout [UInt8]) {
        for byte in bytes {
            output.append(digit(byte >> 4, uppercase: uppercase))
            output.append(digit(byte, uppercase: uppercase))
        }
    }

    /// Two hex digits per byte, lower-case unless asked otherwise.
    package static func string(_ bytes: some Sequence<UInt8>, uppercase: Bool = false) -> String {
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
}
