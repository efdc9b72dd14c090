import Foundation
import HTTP1

/// One row of `clients_audit`: who changed which client's row, how, and when.
package struct AuditEntry: Sendable, Equatable {
    package var id: Int
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, UTC.
    package var at: String
    /// The database user and the session's application name.
    package var actor: String
    /// `insert`, `update`, `delete` or `truncate`.
    package var operation: String
    package var clientID: String
    /// The row before and after, as PostgreSQL's jsonb text (nil for the side that did not exist).
    package var old: String?
    package var new: String?
    /// For an update, each changed column with its old and new JSON value (bookkeeping columns left out).
    package var changes: [(column: String, old: String, new: String)]

    package static func == (lhs: AuditEntry, rhs: AuditEntry) -> Bool {
        lhs.id == rhs.id && lhs.at == rhs.at && lhs.actor == rhs.actor && lhs.operation == rhs.operation
            && lhs.clientID == rhs.clientID && lhs.old == rhs.old && lhs.new == rhs.new
            && lhs.changes.map(\.column) == rhs.changes.map(\.column)
            && lhs.changes.map(\.old) == rhs.changes.map(\.old) && lhs.changes.map(\.new) == rhs.changes.map(\.new)
    }
}

extension AuditEntry {
    /// `clients history` lines, one per entry: time, operation, actor, then what changed.
    package static func lines(_ entries: [AuditEntry]) -> [String] {
        entries.map { entry in
            let what: String
            switch entry.operation {
            case "update":
                what = entry.changes.map { "\($0.column): \($0.old) -> \($0.new)" }.joined(separator: "; ")
            case "insert":
                what = "added"
            default:
                what = "removed"
            }
            return displaySafe("\(entry.at)  \(entry.operation)  \(entry.actor)  \(what)")
        }
    }

    /// `clients history --json`: an array of objects, newest first, `old`/`new` as the rows' JSON.
    package static func json(_ entries: [AuditEntry]) -> String {
        JSONObject.pretty(
            entries.map { entry in
                var object = JSONObject()
                object.add("id", entry.id)
                object.add("at", entry.at)
                object.add("actor", entry.actor)
                object.add("operation", entry.operation)
                object.add("client_id", entry.clientID)
                object.add("old", json: entry.old)
                object.add("new", json: entry.new)
                return object
            })
    }

    /// A row changed with plain SQL may hold anything: control characters (C1 included, which jsonb text
    /// keeps raw) are shown as `\uXXXX` so they cannot drive the terminal.
    static func displaySafe(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: JSONString.isControl) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if JSONString.isControl(scalar) {
                result.append(contentsOf: String(format: "\\u%04x", scalar.value).unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }
}
