/// A value bound to a statement parameter. Values always travel as parameters, never inside SQL text
/// (ARCHITECTURE.md rule 3): text values in PostgreSQL's text format, byte strings in binary format.
package enum PGValue: Sendable, Equatable {
    /// SQL NULL.
    case null
    /// A value in PostgreSQL's text input format (`text`, `int`, `uuid`, `timestamptz`, `jsonb`, …).
    case text(String)
    /// Raw bytes, sent in binary format: a `bytea` value, or any type's binary format (`PGBinaryArray`).
    case bytes([UInt8])

    /// A text parameter, or NULL when `value` is nil.
    package static func optional(_ value: String?) -> PGValue {
        value.map(PGValue.text) ?? .null
    }

    /// An integer parameter.
    package static func int(_ value: Int) -> PGValue { .text(String(value)) }

    /// A boolean parameter.
    package static func bool(_ value: Bool) -> PGValue { .text(value ? "true" : "false") }

    /// A `text[]` parameter, encoded as an array literal with every element quoted and escaped, so no
    /// element can change the array's shape.
    package static func textArray(_ values: [String]) -> PGValue {
        var literal = "{"
        for (index, value) in values.enumerated() {
            if index > 0 { literal += "," }
            literal += "\""
            for scalar in value.unicodeScalars {
                if scalar == "\"" || scalar == "\\" { literal += "\\" }
                literal.unicodeScalars.append(scalar)
            }
            literal += "\""
        }
        literal += "}"
        return .text(literal)
    }
}
