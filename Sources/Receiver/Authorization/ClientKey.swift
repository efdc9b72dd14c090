import Bytes

/// A client id as a dictionary key, compared byte for byte. Swift `String` equality is canonical
/// equivalence, so the NFC and NFD spellings of one name would be one key — while PostgreSQL and the
/// certificate CN check compare bytes. Two registered ids that differ in bytes stay two clients.
package struct ClientKey: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    package let id: String

    package init(_ id: String) { self.id = id }
    package init(stringLiteral id: String) { self.id = id }

    package var description: String { id }

    package static func == (lhs: Self, rhs: Self) -> Bool {
        UTF8Scalars.sameBytes(lhs.id, rhs.id)
    }

    package func hash(into hasher: inout Hasher) {
        let hashed: Void? = id.utf8.withContiguousStorageIfAvailable {
            hasher.combine(bytes: UnsafeRawBufferPointer($0))
        }
        if hashed == nil {
            for byte in id.utf8 { hasher.combine(byte) }
        }
        hasher.combine(id.utf8.count)
    }
}
