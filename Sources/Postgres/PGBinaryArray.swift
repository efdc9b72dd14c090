/// A one-dimensional array parameter in PostgreSQL's binary format (what `array_recv` reads): a header
/// (dimensions, flags, element type, length and lower bound), then each element as a 4-byte length
/// (-1 for NULL) followed by exactly that many bytes in the element type's binary format.
///
/// Elements are length-prefixed, never quoted or escaped, so no element value can change the array's
/// shape: quotes, backslashes, braces, commas, the text `NULL` and empty strings are plain bytes. Bind it
/// with `PGValue.binaryArray(_:)` to a parameter written `$n::<type>[]` in the statement.
package struct PGBinaryArray: Sendable {
    /// The element type, by its built-in OID (`pg_type.oid`); `array_recv` refuses a mismatch.
    package struct ElementType: Sendable, Equatable {
        let oid: UInt32

        /// `text` (OID 25): the UTF-8 bytes.
        package static let text = ElementType(oid: 25)
        /// `bytea` (OID 17): the raw bytes.
        package static let bytea = ElementType(oid: 17)
        /// `jsonb` (OID 3802): format version 1, then the JSON text.
        package static let jsonb = ElementType(oid: 3802)
        /// `bigint` (OID 20): 8 bytes, big-endian.
        package static let int8 = ElementType(oid: 20)
        /// `boolean` (OID 16): one byte, 0 or 1.
        package static let bool = ElementType(oid: 16)
    }

    /// The element type of every element.
    package let elementType: ElementType
    /// The encoded array, ready to be sent in binary format.
    package private(set) var bytes: [UInt8]
    /// Number of elements appended so far.
    package private(set) var count = 0

    /// Byte offset of the dimension's length in `bytes`, patched as elements are appended.
    private static let lengthOffset = 12
    /// `jsonb`'s binary format version (`jsonb_recv`).
    private static let jsonbVersion: UInt8 = 1

    /// An empty array of `elementType`; `reservingBytes` is a hint for the elements' total size.
    package init(of elementType: ElementType, reservingBytes: Int = 0) {
        self.elementType = elementType
        bytes = []
        bytes.reserveCapacity(20 + reservingBytes)
        Self.appendInt32(1, to: &bytes)  // one dimension
        Self.appendInt32(0, to: &bytes)  // flags: array_recv works out "has nulls" itself
        Self.appendUInt32(elementType.oid, to: &bytes)
        Self.appendInt32(0, to: &bytes)  // the dimension's length, patched by every append
        Self.appendInt32(1, to: &bytes)  // lower bound: PostgreSQL arrays start at 1
    }

    /// Appends SQL NULL.
    package mutating func appendNull() {
        Self.appendInt32(-1, to: &bytes)
        elementAppended()
    }

    /// Appends a `text` element, or NULL when `value` is nil.
    package mutating func append(text value: String?) {
        precondition(elementType == .text, "a text element appended to an array of OID \(elementType.oid)")
        guard var text = value else { return appendNull() }
        text.withUTF8 { appendElement($0) }
    }

    /// Appends a `jsonb` element from JSON text, or NULL when `value` is nil. The server parses and
    /// validates it as it would `$n::jsonb`.
    package mutating func append(jsonText value: String?) {
        precondition(elementType == .jsonb, "a jsonb element appended to an array of OID \(elementType.oid)")
        guard var json = value else { return appendNull() }
        json.withUTF8 { text in
            Self.appendLength(text.count + 1, to: &bytes)
            bytes.append(Self.jsonbVersion)
            bytes.append(contentsOf: text)
        }
        elementAppended()
    }

    /// Appends a `bytea` element with exactly these bytes (an empty array stays empty, not NULL).
    package mutating func append(bytes value: [UInt8]) {
        precondition(elementType == .bytea, "a bytea element appended to an array of OID \(elementType.oid)")
        value.withUnsafeBufferPointer { appendElement($0) }
    }

    /// Appends a `bigint` element.
    package mutating func append(int8 value: Int64) {
        precondition(elementType == .int8, "a bigint element appended to an array of OID \(elementType.oid)")
        Self.appendInt32(8, to: &bytes)
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
        elementAppended()
    }

    /// Appends a `boolean` element.
    package mutating func append(bool value: Bool) {
        precondition(elementType == .bool, "a boolean element appended to an array of OID \(elementType.oid)")
        Self.appendInt32(1, to: &bytes)
        bytes.append(value ? 1 : 0)
        elementAppended()
    }

    // MARK: - Internals

    private mutating func appendElement(_ element: UnsafeBufferPointer<UInt8>) {
        Self.appendLength(element.count, to: &bytes)
        bytes.append(contentsOf: element)
        elementAppended()
    }

    private mutating func elementAppended() {
        count += 1
        precondition(count <= Int(Int32.max), "more elements than a PostgreSQL array holds")
        withUnsafeBytes(of: Int32(count).bigEndian) { length in
            for index in 0..<4 { bytes[Self.lengthOffset + index] = length[index] }
        }
    }

    /// libpq and the protocol carry lengths as signed 32-bit integers; PostgreSQL values stop at 1 GiB.
    private static func appendLength(_ length: Int, to bytes: inout [UInt8]) {
        precondition(length <= Int(Int32.max), "an array element longer than PostgreSQL accepts")
        appendInt32(Int32(length), to: &bytes)
    }

    private static func appendInt32(_ value: Int32, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private static func appendUInt32(_ value: UInt32, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

extension PGValue {
    /// An array parameter in binary format: bind it to `$n::<type>[]` matching its element type.
    package static func binaryArray(_ array: PGBinaryArray) -> PGValue { .bytes(array.bytes) }
}
