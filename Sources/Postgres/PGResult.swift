internal import CLibPQ

/// Owns one `PGresult *` and frees it in `deinit`. Values are read in text format; `bytea` columns are
/// unescaped. Not Sendable: read it on the thread that ran the statement.
package final class PGResult {
    private let raw: OpaquePointer

    /// Number of rows.
    package let rowCount: Int
    /// Number of columns.
    package let columnCount: Int

    /// Takes ownership of a result libpq returned; freed with `PQclear` in `deinit`.
    init(takingOwnership raw: OpaquePointer) {
        self.raw = raw
        self.rowCount = Int(PQntuples(raw))
        self.columnCount = Int(PQnfields(raw))
    }

    deinit {
        PQclear(raw)
    }

    /// Rows affected by an INSERT/UPDATE/DELETE (`PQcmdTuples`), 0 when not applicable.
    package var affectedRows: Int {
        guard let text = PQcmdTuples(raw) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    /// True when the value is SQL NULL.
    package func isNull(_ row: Int, _ column: Int) -> Bool {
        PQgetisnull(raw, Int32(row), Int32(column)) == 1
    }

    /// The value in PostgreSQL's text output format, nil for NULL.
    package func string(_ row: Int, _ column: Int) -> String? {
        if isNull(row, column) { return nil }
        guard let value = PQgetvalue(raw, Int32(row), Int32(column)) else { return nil }
        let length = Int(PQgetlength(raw, Int32(row), Int32(column)))
        return value.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
        }
    }

    /// The value as an integer, nil for NULL or a non-integer.
    package func int(_ row: Int, _ column: Int) -> Int? {
        string(row, column).flatMap { Int($0) }
    }

    /// The value as a boolean (`t`/`f`), nil for NULL.
    package func bool(_ row: Int, _ column: Int) -> Bool? {
        string(row, column).map { $0 == "t" }
    }

    /// A `bytea` value, unescaped from its text output format; nil for NULL.
    package func bytes(_ row: Int, _ column: Int) -> [UInt8]? {
        if isNull(row, column) { return nil }
        guard let value = PQgetvalue(raw, Int32(row), Int32(column)) else { return nil }
        var length = 0
        let unescaped = value.withMemoryRebound(to: UInt8.self, capacity: 1) { PQunescapeBytea($0, &length) }
        guard let unescaped else { return nil }
        defer { PQfreemem(unescaped) }
        return Array(UnsafeBufferPointer(start: unescaped, count: length))
    }

    /// A one-dimensional `text[]` value; nil for NULL.
    package func textArray(_ row: Int, _ column: Int) -> [String?]? {
        string(row, column).map(PGArrayLiteral.parse)
    }
}

/// Reads PostgreSQL's text output format of a one-dimensional array: `{a,"b c","d\"e",NULL}`.
enum PGArrayLiteral {
    static func parse(_ literal: String) -> [String?] {
        var scalars = literal.unicodeScalars[...]
        guard scalars.first == "{", scalars.last == "}" else { return [literal] }
        scalars = scalars.dropFirst().dropLast()
        if scalars.isEmpty { return [] }
        var elements: [String?] = []
        var current = String.UnicodeScalarView()
        var quoted = false
        var inQuotes = false
        var escaped = false
        for scalar in scalars {
            if escaped {
                current.append(scalar)
                escaped = false
            } else if inQuotes {
                if scalar == "\\" {
                    escaped = true
                } else if scalar == "\"" {
                    inQuotes = false
                } else {
                    current.append(scalar)
                }
            } else if scalar == "\"" {
                inQuotes = true
                quoted = true
            } else if scalar == "," {
                elements.append(element(current, quoted: quoted))
                current = String.UnicodeScalarView()
                quoted = false
            } else {
                current.append(scalar)
            }
        }
        elements.append(element(current, quoted: quoted))
        return elements
    }

    private static func element(_ scalars: String.UnicodeScalarView, quoted: Bool) -> String? {
        let text = String(scalars)
        return !quoted && text == "NULL" ? nil : text
    }
}
