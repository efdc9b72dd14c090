import HTTP1

/// The one `--json` builder: objects with members in SPEC's column order, strings through the one
/// escaper, printed two-space indented by `BodyText.prettyJSON`.
package struct JSONObject {
    private var members: [(key: String, json: String)] = []

    package init() {}

    /// A string member; `nil` is `null`.
    package mutating func add(_ key: String, _ value: String?) {
        members.append((key, value.map(JSONString.quoted) ?? "null"))
    }

    package mutating func add(_ key: String, _ value: Bool) {
        members.append((key, value ? "true" : "false"))
    }

    package mutating func add(_ key: String, _ value: Int) {
        members.append((key, String(value)))
    }

    /// An array of strings.
    package mutating func add(_ key: String, _ values: [String]) {
        members.append((key, "[" + values.map(JSONString.quoted).joined(separator: ",") + "]"))
    }

    /// A member whose value is already JSON text (a jsonb column as PostgreSQL printed it); `nil` is `null`.
    package mutating func add(_ key: String, json: String?) {
        members.append((key, json ?? "null"))
    }

    /// The object as compact JSON text.
    package var text: String {
        "{" + members.map { JSONString.quoted($0.key) + ":" + $0.json }.joined(separator: ",") + "}"
    }

    /// `--json` output for one object.
    package var pretty: String { BodyText.prettyJSON(Array(text.utf8)) }

    /// `--json` output for a list.
    package static func pretty(_ objects: [JSONObject]) -> String {
        BodyText.prettyJSON(Array(("[" + objects.map(\.text).joined(separator: ",") + "]").utf8))
    }
}
