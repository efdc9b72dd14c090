// libFuzzer harness for `JSONText.isJSONBCompatible` (issue 11), the validator behind `deliveries.body_json`.
// Built by fuzz/run.sh from Sources/Receiver/Delivery/JSONText.swift alone (plus Bytes).
//
// The input is the body. Cross-checks against Foundation's `JSONSerialization` (`.fragmentsAllowed`), which
// any violation traps on:
// - accepted ⇒ Foundation parses it too, except for the documented differences: a number whose magnitude is
//   beyond Double (Foundation: "not representable in Swift"; jsonb stores it as numeric) and nesting deeper
//   than Foundation's 512 levels (JSONText allows up to 1,000);
// - rejected while Foundation parses it ⇒ the input shows one of the documented reasons JSONText refuses
//   what jsonb refuses or what RFC 8259 forbids but Foundation tolerates: a `\u0000` escape, an unpaired
//   surrogate escape, a number outside numeric's range (exponent of 7+ digits, or too many digits once the
//   exponent is applied), a byte order mark, a trailing comma, nesting of 1,000 levels or more, a raw NUL byte
//   (Foundation stops at a NUL after a top-level number: `1\0x` parses as 1).
import Foundation
import Receiver

/// What a structural scan of the input (outside strings) found.
private struct Shape {
    /// The deepest nesting of `[` and `{`.
    var maxDepth = 0
    /// Some number token is beyond Double's range (`Double(token)` is infinite).
    var numberBeyondDouble = false
    /// Some number token has an exponent or more digits than `numeric` keeps after the exponent.
    var numberOutsideNumeric = false
    /// A `,` followed (after whitespace) by `]` or `}`.
    var trailingComma = false
    /// A `\u0000` escape inside a string.
    var nulEscape = false
    /// A `\uD800`-`\uDFFF` escape inside a string (paired or not).
    var surrogateEscape = false

    init(_ bytes: [UInt8]) {
        var depth = 0
        var index = 0
        var lastSignificant: UInt8 = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index = scanString(bytes, from: index + 1)
                lastSignificant = byte
                continue
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                maxDepth = max(maxDepth, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if lastSignificant == UInt8(ascii: ",") { trailingComma = true }
                depth -= 1
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = index
                while index < bytes.count, Self.isNumberByte(bytes[index]) { index += 1 }
                let token = bytes[start..<index]
                let text = String(decoding: token, as: UTF8.self)
                if let value = Double(text), value.isInfinite { numberBeyondDouble = true }
                if token.contains(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) || token.count > 16_000
                {
                    numberOutsideNumeric = true
                }
                lastSignificant = byte
                continue
            case 0x20, 0x09, 0x0A, 0x0D:
                index += 1
                continue
            default:
                break
            }
            lastSignificant = byte
            index += 1
        }
    }

    static func isNumberByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
            UInt8(ascii: "e"), UInt8(ascii: "E"):
            true
        default: false
        }
    }

    /// Skips a string body starting after its opening quote; returns the index after the closing quote.
    mutating func scanString(_ bytes: [UInt8], from start: Int) -> Int {
        var index = start
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                return index + 1
            case UInt8(ascii: "\\"):
                if index + 5 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") {
                    let hex = String(decoding: bytes[(index + 2)..<(index + 6)], as: UTF8.self)
                    if let unit = UInt32(hex, radix: 16) {
                        if unit == 0 { nulEscape = true }
                        if (0xD800...0xDFFF).contains(unit) { surrogateEscape = true }
                    }
                }
                index += 2
            default:
                index += 1
            }
        }
        return index
    }
}

/// Stops the process with a message; libFuzzer records the input as a crash.
private func violated(_ message: String, _ bytes: [UInt8]) -> Never {
    let shown = String(decoding: bytes.prefix(200), as: UTF8.self).debugDescription
    fatalError("fuzz invariant violated: \(message): \(shown)")
}

/// libFuzzer's entry point.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = start.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let accepted = JSONText.isJSONBCompatible(bytes)
    if accepted != JSONText.isJSONBCompatible(bytes) { violated("not deterministic", bytes) }
    let foundation = (try? JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)) != nil
    guard accepted != foundation else { return 0 }
    let shape = Shape(bytes)
    if accepted {
        if shape.numberBeyondDouble || shape.maxDepth > 512 { return 0 }
        violated("JSONText accepts what JSONSerialization refuses", bytes)
    }
    let bom = bytes.starts(with: [0xEF, 0xBB, 0xBF])
    if shape.nulEscape || shape.surrogateEscape || shape.numberOutsideNumeric || bom || shape.trailingComma
        || shape.maxDepth >= 1_000 || bytes.contains(0)
    {
        return 0
    }
    violated("JSONText refuses what JSONSerialization parses", bytes)
}
