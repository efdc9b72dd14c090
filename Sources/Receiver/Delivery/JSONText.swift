import Bytes

/// Deciding whether a body is JSON
/// that PostgreSQL's `jsonb` accepts (SPEC: `body_json` holds the body whenever it is valid JSON that
/// `jsonb` accepts, whatever the Content-Type).
package enum JSONText {
    /// True when `bytes` is one JSON value (RFC 8259) that `jsonb` will accept: valid UTF-8, no `\u0000`
    /// escape, no unpaired surrogate escape, exponents within `numeric`'s range. An empty body is not.
    package static func isJSONBCompatible(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty, UTF8Scalars.isValid(bytes) else { return false }
        var scanner = JSONScanner(bytes: bytes)
        return scanner.document()
    }
}

/// A recursive-descent JSON recogniser with a depth limit (no values are built).
private struct JSONScanner {
    let bytes: [UInt8]
    var index = 0
    /// PostgreSQL refuses deeper nesting through its stack-depth check; stop well before.
    static let maxDepth = 1_000

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() -> Bool {
        skipWhitespace()
        guard value(depth: 0) else { return false }
        skipWhitespace()
        return index == bytes.count
    }

    mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    mutating func value(depth: Int) -> Bool {
        guard depth < Self.maxDepth, index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "{"): return object(depth: depth + 1)
        case UInt8(ascii: "["): return array(depth: depth + 1)
        case UInt8(ascii: "\""): return string()
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        default: return number()
        }
    }

    mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: count)
        guard bytes[index..<index + count].elementsEqual(expected) else { return false }
        index += count
        return true
    }

    mutating func object(depth: Int) -> Bool {
        container(closing: UInt8(ascii: "}")) { scanner in
            guard scanner.index < scanner.bytes.count, scanner.bytes[scanner.index] == UInt8(ascii: "\""),
                scanner.string()
            else { return false }
            scanner.skipWhitespace()
            guard scanner.index < scanner.bytes.count, scanner.bytes[scanner.index] == UInt8(ascii: ":") else {
                return false
            }
            scanner.index += 1
            scanner.skipWhitespace()
            return scanner.value(depth: depth)
        }
    }

    mutating func array(depth: Int) -> Bool {
        container(closing: UInt8(ascii: "]")) { $0.value(depth: depth) }
    }

    /// The part objects and arrays share: after the opening bracket, zero or more `element`s separated by
    /// commas, then `closing`.
    mutating func container(closing: UInt8, element: (inout JSONScanner) -> Bool) -> Bool {
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == closing {
            index += 1
            return true
        }
        while true {
            skipWhitespace()
            guard element(&self) else { return false }
            skipWhitespace()
            guard index < bytes.count else { return false }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == closing {
                index += 1
                return true
            }
            return false
        }
    }

    mutating func string() -> Bool {
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return true
            }
            if byte < 0x20 { return false }
            if byte == UInt8(ascii: "\\") {
                index += 1
                guard index < bytes.count else { return false }
                switch bytes[index] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 1
                case UInt8(ascii: "u"):
                    guard let unit = hex4(at: index + 1) else { return false }
                    index += 5
                    if unit == 0 { return false }  // jsonb cannot store \u0000
                    if (0xDC00...0xDFFF).contains(unit) { return false }
                    if (0xD800...0xDBFF).contains(unit) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u"), let low = hex4(at: index + 2),
                            (0xDC00...0xDFFF).contains(low)
                        else { return false }
                        index += 6
                    }
                default:
                    return false
                }
                continue
            }
            index += 1
        }
        return false
    }

    func hex4(at start: Int) -> UInt32? {
        guard start + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for byte in bytes[start..<start + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// A JSON number that also fits PostgreSQL's `numeric` (at most 131072 digits before the point and
    /// 16383 after, once the exponent is applied), which jsonb stores it as.
    mutating func number() -> Bool {
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { return false }
        var integerDigits = 0
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            integerDigits = digits()
            guard integerDigits > 0 else { return false }
        }
        var fractionDigits = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            fractionDigits = digits()
            guard fractionDigits > 0 else { return false }
        }
        var exponent = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var negative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                negative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            let start = index
            let count = digits()
            guard count > 0, count <= 6 else { return false }
            exponent = bytes[start..<index].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            if negative { exponent = -exponent }
        }
        return integerDigits + exponent <= 131_072 && fractionDigits - exponent <= 16_383
    }

    mutating func digits() -> Int {
        let start = index
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }
}
