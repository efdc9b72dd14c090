import Foundation
import Glibc
import Operations
import Postgres
import TestSupport
import Testing

/// `webhookd deliveries list|show|tail`: the real binary against a populated database, plus the
/// pieces it is made of (`--since` parsing, JSON re-indenting, hex dumps).
@Suite("DeliveriesCommand")
struct DeliveriesCommandTests {
    /// `webhookd deliveries arguments… --database-url <database>`.
    func run(_ arguments: [String], on database: TestDatabase) throws -> CommandResult {
        try TestSupportProcess.runWebhookd(["deliveries"] + arguments + ["--database-url", database.url])
    }

    static func populated() throws -> (TestDatabase, SampleDeliveries) {
        let database = try TestDatabase.create()
        let connection = try database.connect()
        defer { connection.close() }
        return (database, try SampleDeliveries.populate(on: connection))
    }

    // MARK: - list

    @Test("list --client --since 1h --limit --json prints that client's newest deliveries with SPEC's columns")
    func listAsJSON() throws {
        let (database, samples) = try Self.populated()
        let result = try run(["list", "--client", "acme", "--since", "1h", "--json"], on: database)
        #expect(result.status == 0, "\(result.stderr)")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        // Within the last hour: only acme's binary delivery (30 minutes ago); the repeated invoice arrived
        // an hour before the insert, so it is just outside; globex's text is another client's.
        #expect(parsed.compactMap { $0["id"] as? String } == [samples.acmeBinary])

        let limited = try run(["list", "--client", "acme", "--since", "4h", "--limit", "2", "--json"], on: database)
        #expect(limited.status == 0, "\(limited.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(limited.stdout.utf8)) as? [[String: Any]])
        #expect(rows.compactMap { $0["id"] as? String } == [samples.acmeBinary, samples.acmeInvoicePaidAgain])
        let keys: Set<String> = [
            "id", "received_at", "client_id", "endpoint", "method", "path", "query", "content_type", "body_bytes",
            "body_sha256", "idempotency_key", "processing_state", "body_json",
        ]
        #expect(rows.allSatisfy { Set($0.keys) == keys })
        let invoice = rows[1]
        #expect(invoice["client_id"] as? String == "acme")
        #expect(invoice["idempotency_key"] as? String == "evt_0003")
        #expect(invoice["body_bytes"] as? Int == 91)
        #expect((invoice["body_json"] as? [String: Any])?["type"] as? String == "invoice.paid")
        #expect((invoice["received_at"] as? String)?.hasSuffix("Z") == true)
        #expect(rows[0]["body_json"] is NSNull, "a binary body has no body_json")
        #expect(rows[0]["idempotency_key"] is NSNull)
    }

    @Test("list prints an aligned table, newest first, filtered by endpoint and by an ISO-8601 --since")
    func listAsTable() throws {
        let (database, samples) = try Self.populated()
        let all = try run(["list"], on: database)
        #expect(all.status == 0, "\(all.stderr)")
        let lines = all.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 7, "header + six deliveries:\n\(all.stdout)")
        #expect(lines[0].hasPrefix("RECEIVED_AT"))
        #expect(lines[1].contains(samples.globexText) && lines[6].contains(samples.globexOld))
        #expect(lines[1].contains("text/plain; charset=utf-8") && lines[1].hasSuffix("gh-1"))
        let column = try #require(lines[0].range(of: "CLIENT")).lowerBound.utf16Offset(in: lines[0])
        #expect(
            lines.dropFirst().allSatisfy { line in
                line.utf16.count > column && ["acme", "globex"].contains { line.dropFirst(column).hasPrefix($0) }
            })

        let billing = try run(["list", "--endpoint", "billing"], on: database)
        #expect(billing.stdout.split(separator: "\n").count == 2)
        #expect(billing.stdout.contains(samples.acmeBinary))

        let connection = try database.connect()
        let cut = try #require(
            try connection.query(
                "SELECT to_char((now() - interval '100 minutes') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
            ).string(0, 0))
        let since = try run(["list", "--since", cut], on: database)
        #expect(since.status == 0, "\(since.stderr)")
        #expect(since.stdout.split(separator: "\n").count == 4, "header + three deliveries since \(cut)")

        let none = try run(["list", "--client", "nobody"], on: database)
        #expect(none.status == 0)
        #expect(none.stdout.contains("no deliveries match"))
    }

    @Test("bad --since, --limit and ids exit 64 with one line naming the flag; an unknown id exits 1")
    func badInput() throws {
        let database = try TestDatabase.create()
        let since = try run(["list", "--since", "yesterday"], on: database)
        #expect(since.status == 64)
        #expect(since.stderr.contains("--since 'yesterday'"))
        let month = try run(["list", "--since", "2024-13-01"], on: database)
        #expect(month.status == 64, "\(month.stderr)")
        #expect(month.stderr.contains("--since"))
        let limit = try run(["list", "--limit", "0"], on: database)
        #expect(limit.status == 64)
        #expect(limit.stderr.contains("--limit"))
        let notUUID = try run(["show", "not-a-uuid"], on: database)
        #expect(notUUID.status == 64, "\(notUUID.stderr)")
        #expect(notUUID.stderr.contains("not a delivery id"))
        let unknown = try run(["show", "00000000-0000-4000-8000-000000000000"], on: database)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no delivery with id 00000000-0000-4000-8000-000000000000"))
    }

    // MARK: - show

    @Test("show prints metadata, headers in order, and a JSON body pretty-printed in the sender's key order")
    func showJSON() throws {
        let (database, samples) = try Self.populated()
        let result = try run(["show", samples.acmeInvoicePaid], on: database)
        #expect(result.status == 0, "\(result.stderr)")
        let text = result.stdout
        for line in [
            "id: \(samples.acmeInvoicePaid)", "client_id: acme", "endpoint: orders", "request: POST /webhooks/orders",
            "content_type: application/json", "idempotency_key: evt_0001", "processing_state: pending",
            "cert_sha256: \(SampleDeliveries.acmeCertificate)", "tls: TLSv1.3 TLS_AES_128_GCM_SHA256",
            "remote_addr: 203.0.113.5", "headers (4):", "  Content-Type: application/json", "  webhook-id: evt_0001",
            "body (91 bytes, JSON):",
        ] {
            #expect(text.contains(line + "\n"), "missing '\(line)' in:\n\(text)")
        }
        #expect(
            text.hasSuffix(
                """
                {
                  "type": "invoice.paid",
                  "data": {
                    "invoice": "in_1",
                    "amount": 4200,
                    "customer": "cus_42"
                  }
                }

                """), "\(text)")
    }

    @Test("show prints a binary body as a hex dump and a text body as text")
    func showBinaryAndText() throws {
        let (database, samples) = try Self.populated()
        let binary = try run(["show", samples.acmeBinary], on: database)
        #expect(binary.status == 0, "\(binary.stderr)")
        #expect(binary.stdout.contains("body (12 bytes, binary):\n"))
        #expect(
            binary.stdout.contains(
                "00000000  89 50 4e 47 0d 0a 1a 0a  00 ff 10 7f" + String(repeating: " ", count: 14) + "|.PNG........|")
        )
        #expect(binary.stdout.contains("idempotency_key: -"))

        let text = try run(["show", samples.globexText], on: database)
        #expect(text.stdout.contains("request: POST /webhooks/refunds?attempt=1\n"))
        #expect(text.stdout.contains("body (13 bytes, text):\nhello refund\n"))
    }

    // MARK: - tail

    @Test("tail prints a delivery committed after it started, one line, honours --client, and exits 0 on SIGINT")
    func tailFollowsNewDeliveries() throws {
        let database = try TestDatabase.create()
        let tail = try WebhookdProcess(["deliveries", "tail", "--client", "acme", "--database-url", database.url])
        // Printed once LISTEN is active: anything committed from now on is seen.
        _ = try tail.waitForLine(containing: "listening for new deliveries")

        let connection = try database.connect()
        let other = try SampleDeliveries.insert(
            .json(#"{"n":1}"#, client: "globex", endpoint: "refunds", key: "g-1"), on: connection)
        let id = try SampleDeliveries.insert(
            .json(#"{"type":"ping"}"#, client: "acme", endpoint: "orders", key: "k-42"), on: connection)
        let line = try tail.waitForLine(containing: id)
        let fields = line.split(separator: "  ").map(String.init)
        #expect(fields.count == 7, "\(line)")
        #expect(fields.dropFirst().elementsEqual([id, "acme", "orders", "15", "application/json", "k-42"]))
        #expect(fields.first?.hasSuffix("Z") == true)
        #expect(!tail.output.contains(other), "globex is filtered out by --client acme")

        // Ctrl-C is the way out, and a clean one (the embedded cluster, had it started one, is released).
        tail.signal(SIGINT)
        #expect(tail.waitForExit(timeout: .seconds(10)) == 0)
        #expect(tail.errorOutput == "listening for new deliveries (Ctrl-C to stop)\n")
    }

    @Test("tail exits 1 with one line when its database session is terminated")
    func tailReportsALostConnection() throws {
        let database = try TestDatabase.create()
        let tail = try WebhookdProcess(["deliveries", "tail", "--database-url", database.url])
        _ = try tail.waitForLine(containing: "listening for new deliveries")
        let connection = try database.connect()
        // The CLI's session is the one named "webhookd" on this database; the test's are "webhookd-tests".
        let terminated = try connection.query(
            """
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'webhookd'
            """)
        #expect(terminated.int(0, 0) == 1)
        #expect(tail.waitForExit(timeout: .seconds(10)) == 1)
        #expect(tail.errorOutput.contains("webhookd: stopped following deliveries: "), "\(tail.errorOutput)")
    }

    // MARK: - Pieces

    @Test(
        "--since accepts 30s, 15m, 2h, 7d and ISO-8601, and refuses anything else",
        arguments: [
            ("30s", DeliverySince.last(seconds: 30)), ("15m", .last(seconds: 900)), ("2h", .last(seconds: 7_200)),
            ("7d", .last(seconds: 604_800)), ("2024-05-01", .at("2024-05-01")),
            ("2024-05-01T12:00:00Z", .at("2024-05-01T12:00:00Z")),
            ("2024-05-01T12:00:00.250+02:00", .at("2024-05-01T12:00:00.250+02:00")),
            ("2024-05-01 12:00", .at("2024-05-01 12:00")),
        ])
    func sinceParses(text: String, expected: DeliverySince) throws {
        #expect(try DeliverySince(parsing: text) == expected)
    }

    @Test(
        "--since refuses what is neither a duration nor ISO-8601",
        arguments: ["", "yesterday", "now", "30", "1w", "-5m", "2h30m", "2024-5-1", "'; DROP TABLE deliveries; --"])
    func sinceRefuses(text: String) {
        #expect(throws: DeliveryQueryError.self) { try DeliverySince(parsing: text) }
    }

    @Test("pretty JSON keeps key order, duplicate keys, number spelling and string contents")
    func prettyJSON() {
        let body = #"{"b":1,"a":[1.50,{}, [ ],"x,\"{y}:"],"a":1e400 ,"n":null}"#
        #expect(
            BodyText.prettyJSON(Array(body.utf8)) == """
                {
                  "b": 1,
                  "a": [
                    1.50,
                    {},
                    [],
                    "x,\\"{y}:"
                  ],
                  "a": 1e400,
                  "n": null
                }
                """)
        #expect(BodyText.prettyJSON(Array("  42 ".utf8)) == "42")
        // DEL and C1 controls inside strings are shown as the escapes they equal; nothing else changes.
        let controls = Array(#"{"k":"a"#.utf8) + [0x7F, 0xC2, 0x85, 0xC2, 0xA0] + Array(#"b\u0001"}"#.utf8)
        #expect(BodyText.prettyJSON(controls) == "{\n  \"k\": \"a\\u007f\\u0085\u{A0}b\\u0001\"\n}")
    }

    @Test("a body with terminal control characters is not shown as text")
    func displayableText() {
        #expect(BodyText.isDisplayable(Array("héllo\tworld\r\n".utf8)))
        #expect(!BodyText.isDisplayable(Array("red \u{1B}[31m".utf8)))
        #expect(!BodyText.isDisplayable([0x61, 0xC2, 0x9B, 0x62]), "C1 control (CSI)")
        #expect(!BodyText.isDisplayable([0xFF, 0xFE]))
        #expect(
            BodyText.hexDump(Array(0..<20))
                == "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|\n"
                + "00000010  10 11 12 13" + String(repeating: " ", count: 39) + "|....|")
    }
}
