import Glibc

/// The one UTF-8 validator: walks `bytes` as Unicode scalars and stops at the first invalid sequence. Also
/// the one byte-for-byte string comparison (`sameBytes`), for identities.
///
/// `@inlinable` so callers in other modules get it specialised for their sequence type: unspecialised,
/// every byte went through generic witness calls and an allocation (a third of the receiver's CPU per
/// delivery in `perf`, for the `body_json` check of a 1 KiB body).
package enum UTF8Scalars {
    /// Whether two strings have the same UTF-8 bytes. Swift's `==` is canonical equivalence (the NFC and NFD
    /// spellings of one name are equal); identities compare bytes, as PostgreSQL does. One length check and a
    /// memory compare: `utf8.elementsEqual` walked the views (≈ 740 instructions per client-id key lookup).
    package static func sameBytes(_ lhs: String, _ rhs: String) -> Bool {
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        let compared = lhs.utf8.withContiguousStorageIfAvailable { left in
            rhs.utf8.withContiguousStorageIfAvailable { right in
                // The counts are equal, so a missing base address means both are empty.
                guard let leftBase = left.baseAddress, let rightBase = right.baseAddress else { return true }
                return memcmp(leftBase, rightBase, left.count) == 0
            }
        }
        if let compared, let equal = compared { return equal }
        return lhs.utf8.elementsEqual(rhs.utf8)
    }

    /// True when `bytes` is valid UTF-8 and `accept` returns true for every scalar.
    @inlinable
    package static func all(_ bytes: some Sequence<UInt8>, _ accept: (Unicode.Scalar) -> Bool = { _ in true }) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): if !accept(scalar) { return false }
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// True when `bytes` is valid UTF-8 (no predicate): ASCII runs are skipped eight bytes at a time.
    @inlinable
    package static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return true }  // empty
            var index = 0
            let count = buffer.count
            // The common case, ASCII JSON: check eight bytes per step for any high bit.
            while index + 8 <= count {
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                index += 8
            }
            return all(UnsafeBufferPointer(rebasing: buffer[index...]))
        }
    }
}
