import Foundation
import Postgres
import TestSupport
import Testing

/// The registry audit trail: `clients_audit`, written by triggers for every `webhookd clients` command
/// and for plain SQL, append-only, and `webhookd clients history`.
@Suite("Clients audit trail")
struct ClientsAuditTests {
    func run(_ arguments: [String], on database: TestDatabase) throws -> CommandResult {
        try TestSupportProcess.runWebhookd(
            arguments + ["--database-url", database.url, "--sql-dir", TestDatabase.sqlDirectory])
    }

    struct Row {
        var operation: String
        var actor: String
        var old: [String: Any]?
        var new: [String: Any]?
    }

    /// The audit rows of `client`, oldest first, with old/new parsed.
    func rows(_ client: String, on connection: PGConnection) throws -> [Row] {
        let result = try connection.query(
            "SELECT operation, actor, old::text, new::text FROM clients_audit WHERE client_id = $1 ORDER BY id",
            [.text(client)])
        func object(_ text: String?) -> [String: Any]? {
            text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        return (0..<result.rowCount).map {
            Row(
                operation: result.string($0, 0) ?? "", actor: result.string($0, 1) ?? "",
                old: object(result.string($0, 2)), new: object(result.string($0, 3)))
        }
    }

    @Test("each clients command leaves one audit row naming the subcommand, with the row before and after")
    func everyCommandIsAudited() throws {
        let database = try TestDatabase.create()
        let commands: [(arguments: [String], operation: String, changed: String?)] = [
            (["clients", "add", "acme", "--endpoint", "orders"], "insert", nil),
            (["clients", "grant", "acme", "refunds"], "update", "endpoints"),
            (["clients", "revoke-endpoint", "acme", "orders"], "update", "endpoints"),
            (["clients", "disable", "acme"], "update", "enabled"),
            (["clients", "enable", "acme"], "update", "enabled"),
            (["clients", "limit", "acme", "--rate", "5"], "update", "rate_per_second"),
            (["clients", "remove", "acme"], "delete", nil),
        ]
        for command in commands {
            let result = try run(command.arguments, on: database)
            #expect(result.status == 0, "\(command.arguments): \(result.stderr)")
        }
        let connection = try database.connect()
        defer { connection.close() }
        let rows = try rows("acme", on: connection)
        try #require(rows.count == commands.count, "\(rows.map(\.operation))")
        let user = try #require(try connection.query("SELECT current_user").string(0, 0))
        for (row, command) in zip(rows, commands) {
            #expect(row.operation == command.operation, "\(command.arguments)")
            #expect(row.actor.hasPrefix("\(user) (webhookd clients \(command.arguments[1]) ("), "\(row.actor)")
            switch command.operation {
            case "insert":
                #expect(row.old == nil && row.new?["endpoints"] as? [String] == ["orders"])
            case "delete":
                #expect(row.new == nil && row.old?["client_id"] as? String == "acme")
            default:
                let changed = try #require(command.changed)
                #expect(
                    "\(row.old?[changed] ?? "null")" != "\(row.new?[changed] ?? "null")",
                    "\(command.arguments): \(changed) did not change")
            }
        }
        #expect(rows[1].new?["endpoints"] as? [String] == ["orders", "refunds"])
        #expect(rows[3].old?["enabled"] as? Bool == true && rows[3].new?["enabled"] as? Bool == false)
    }

    @Test("plain SQL is audited too (update, delete, truncate); last_seen_at bookkeeping is not")
    func plainSQLIsAuditedButBookkeepingIsNot() throws {
        let database = try TestDatabase.create()
        let connection = try database.connect()
        defer { connection.close() }
        try connection.query("SET application_name = 'psql-by-hand'")
        try connection.query("INSERT INTO clients (client_id, endpoints) VALUES ('acme', '{orders}'), ('globex', '{}')")
        // The receiver's bookkeeping: not a registry change.
        try connection.query(
            "UPDATE clients SET last_seen_at = now(), last_cert_not_after = now() + interval '1 day' WHERE client_id = 'acme'"
        )
        try connection.query("UPDATE clients SET description = 'billing partner' WHERE client_id = 'acme'")
        try connection.query("DELETE FROM clients WHERE client_id = 'globex'")
        try connection.query("TRUNCATE clients")
        let acme = try rows("acme", on: connection)
        #expect(acme.map(\.operation) == ["insert", "update", "truncate"])
        #expect(acme.allSatisfy { $0.actor.hasSuffix(" (psql-by-hand)") }, "\(acme.map(\.actor))")
        #expect(
            acme[1].old?["description"] as? String == "" && acme[1].new?["description"] as? String == "billing partner")
        #expect(acme[2].old?["client_id"] as? String == "acme" && acme[2].new == nil)
        #expect(try rows("globex", on: connection).map(\.operation) == ["insert", "delete"])
        // A change that rolls back leaves no trail.
        try connection.query("BEGIN")
        try connection.query("INSERT INTO clients (client_id) VALUES ('initech')")
        try connection.query("ROLLBACK")
        #expect(try rows("initech", on: connection).isEmpty)
    }

    @Test("signature secrets are audited by count, never by value: a rotation, plain SQL, TRUNCATE, a removal")
    func signatureSecretsAreAuditedByCount() throws {
        let database = try TestDatabase.create()
        let directory = try TestPKI.makeTemporaryDirectory(prefix: "audit")
        defer { try? FileManager.default.removeItem(atPath: directory) }  // a leftover temp dir harms nothing
        let first = "\(directory)/first"
        let second = "\(directory)/second"
        try "first-github-secret\n".write(toFile: first, atomically: true, encoding: .utf8)
        try "second-github-secret\n".write(toFile: second, atomically: true, encoding: .utf8)
        let signature = ["clients", "signature", "acme", "--scheme", "github", "--secret-file"]
        for arguments in [
            ["clients", "add", "acme"], signature + [first], signature + [first, "--secret-file", second],
        ] {
            let result = try run(arguments, on: database)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
        }
        let connection = try database.connect()
        defer { connection.close() }
        try connection.query("UPDATE client_signature_secrets SET secret = 'replaced-by-hand' WHERE position = 1")
        try connection.query("TRUNCATE client_signature_secrets")
        try connection.query(
            "INSERT INTO client_signature_secrets (client_id, position, secret) VALUES ('acme', 0, 'again')")
        #expect(try run(["clients", "remove", "acme"], on: database).status == 0)

        let rows = try rows("acme", on: connection)
        let counts = rows.compactMap { row -> String? in
            guard let old = row.old?["signature_secrets"] as? Int, let new = row.new?["signature_secrets"] as? Int
            else { return nil }
            let replaced = (row.new?["signature_secrets_replaced"] as? Int).map { " replaced \($0)" } ?? ""
            return "\(old)->\(new)\(replaced)"
        }
        // First signature: 0->1; the rotation deletes one and inserts two in one statement each; the hand
        // UPDATE replaces one; TRUNCATE empties; the hand INSERT adds one; the removal takes it with the client.
        #expect(counts == ["0->1", "1->0", "0->2", "2->2 replaced 1", "2->0", "0->1", "1->0"], "\(counts)")
        let secretRows = rows.filter { $0.new?["signature_secrets"] != nil }
        #expect(secretRows.allSatisfy { $0.operation == "update" })
        #expect(secretRows.prefix(3).allSatisfy { $0.actor.contains("webhookd clients signature (") })
        let trail = try connection.query(
            "SELECT string_agg(coalesce(old::text, '') || coalesce(new::text, ''), ' ') FROM clients_audit")
        let text = trail.string(0, 0) ?? ""
        for secret in ["first-github-secret", "second-github-secret", "replaced-by-hand", "again"] {
            #expect(!text.contains(secret), "\(secret) is in the trail")
        }
        #expect(try connection.query("SELECT count(*) FROM client_signature_secrets").int(0, 0) == 0)
        // The signature settings on `clients` are audited like any column.
        let schemes = rows.filter {
            $0.new?["signature_scheme"] as? String == "github" && $0.old?["signature_scheme"] is NSNull
        }
        #expect(schemes.count == 1, "\(rows.map(\.new))")
    }

    @Test("the trail is append-only, even for the owner: UPDATE, DELETE and TRUNCATE fail")
    func trailIsAppendOnly() throws {
        let database = try TestDatabase.create()
        let connection = try database.connect()
        defer { connection.close() }
        try connection.query("INSERT INTO clients (client_id) VALUES ('acme')")
        for statement in [
            "UPDATE clients_audit SET actor = 'someone else'", "DELETE FROM clients_audit", "TRUNCATE clients_audit",
        ] {
            let error = #expect(throws: PostgresError.self, "\(statement)") { try connection.query(statement) }
            #expect(error?.sqlState == "42501", "\(statement): \(String(describing: error))")
            #expect(error?.message.contains("append-only") == true, "\(String(describing: error))")
        }
        #expect(try connection.query("SELECT count(*) FROM clients_audit").int(0, 0) == 1)
    }

    @Test("clients history prints the trail newest first, as text and as JSON; an unknown id exits 1")
    func historyNewestFirst() throws {
        let database = try TestDatabase.create()
        #expect(try run(["clients", "add", "acme", "--endpoint", "orders"], on: database).status == 0)
        #expect(try run(["clients", "grant", "acme", "refunds"], on: database).status == 0)
        #expect(try run(["clients", "disable", "acme"], on: database).status == 0)

        let text = try run(["clients", "history", "acme"], on: database)
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 3, "\(text.stdout)")
        #expect(
            lines[0].contains("  update  ") && lines[0].contains("webhookd clients disable (")
                && lines[0].contains("enabled: true -> false"))
        #expect(lines[1].contains(#"endpoints: ["orders"] -> ["orders", "refunds"]"#), "\(lines[1])")
        #expect(lines[2].contains("  insert  ") && lines[2].contains("webhookd clients add ("))
        #expect(!lines[0].contains("updated_at"), "bookkeeping columns are not listed as changes")

        let json = try run(["clients", "history", "acme", "--json"], on: database)
        #expect(json.status == 0, "\(json.stderr)")
        let entries = try #require(
            try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]], "\(json.stdout)")
        #expect(entries.map { $0["operation"] as? String } == ["update", "update", "insert"])
        let ids = entries.compactMap { $0["id"] as? Int }
        #expect(ids == ids.sorted(by: >) && ids.count == 3)
        #expect((entries[0]["new"] as? [String: Any])?["enabled"] as? Bool == false)
        #expect(entries[2]["old"] is NSNull)

        let unknown = try run(["clients", "history", "nobody"], on: database)
        #expect(unknown.status == 1, "\(unknown.stdout) \(unknown.stderr)")
        #expect(unknown.stderr.contains("nobody"))
        #expect(unknown.stderr.split(separator: "\n").count == 1, "\(unknown.stderr)")
    }
}
