import Bytes

/// Deciding whether a body is JSON
/// that PostgreSQL's `jsonb` accepts (SPEC: `body_json` holds the body whenever it is valid JSON that
/// `jsonb` accepts, whatever the Content-Type).
package enum JSONText {
    /// True when `bytes` is one JSON value (RFC 8259) that `jsonb` will accept: valid UTF-8, no `\u0000`
    /// escape, no unpaired surrogate escape, exponents within `numeric`'s range. An empty body is not.
    package static func isJSONBCompatible(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty, UTF8Scalars.isValid(bytes) else { return false }
        return bytes.withUnsafeBufferPointer { buffer in
            var scanner = JSONScanner(bytes: buffer)
            return scanner.document()
        }
    }
}

/// A recursive-descent JSON recogniser with a depth limit (no values are built). It reads the body in place
/// (a buffer pointer, valid for the scan only): no array bounds or uniqueness checks per byte.
private struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    /// PostgreSQL refuses deeper nesting through its stack-depth check; stop well before.
    static let maxDepth = 1_000

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func document() -> Bool {
        skipWhitespace()
        guard value(depth: 0) else { return false }
        skipWhitespace()
        return index == bytes.count
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
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
        while true {
            index = Self.endOfPlainRun(bytes, from: index)
            guard index < bytes.count else { return false }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return true
            }
            if byte < 0x20 { return false }
            // A backslash: one escape.
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
        }
    }

    /// The index of the first byte at or after `start` that ends a run of plain string content: a quote, a
    /// backslash or a control character (or `bytes.count`). Eight bytes at a time while none of them is one
    /// (the SWAR "has a byte below n / equal to c" tests: exact for "any", which is all this needs).
    static func endOfPlainRun(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var position = start
        if let base = bytes.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            while position + 8 <= bytes.count {
                let word = UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self)
                let control = (word &- ones &* 0x20) & ~word
                let quote = word ^ (ones &* 0x22)
                let backslash = word ^ (ones &* 0x5C)
                let special = control | ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
                if special & highs != 0 { break }
                position += 8
            }
        }
        while position < bytes.count {
            let byte = bytes[position]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { break }
            position += 1
        }
        return position
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
