import Foundation
import Postgres
import Synchronization
import TestSupport
import Testing

/// The SQL inspection kit (sql/002_inspection.sql, sql/queries/): every view and every recipe runs
/// against a populated database (the recipes through the real `psql -f`), the read-only role, the optional
/// GIN index, and the SKIP LOCKED claim recipe under two concurrent workers.
@Suite("InspectionKit")
struct InspectionKitTests {
    /// The views the migration creates; each must answer on a populated database.
    static let views = [
        "recent_deliveries", "deliveries_per_client_hour", "rejections_last_hour", "duplicates", "clients_expiring",
    ]
    /// The tables `webhookd_reader` reads.
    static let tables = ["clients", "deliveries", "rejections", "webhookd_migrations", "clients_audit"]

    static var queriesDirectory: String { TestDatabase.sqlDirectory + "/queries" }

    /// A fresh migrated database with `SampleDeliveries` in it.
    static func populated() throws -> (TestDatabase, SampleDeliveries) {
        let database = try TestDatabase.create()
        let connection = try database.connect()
        defer { connection.close() }
        return (database, try SampleDeliveries.populate(on: connection))
    }

    /// Runs `psql -X -f sql/queries/<file> -v name=value…` on `database`, as an operator would.
    static func psql(
        _ file: String, _ variables: [String: String] = [:], on database: TestDatabase
    ) throws -> PSQLRun {
        var arguments = ["-X", "--no-psqlrc", "-d", database.url, "-f", queriesDirectory + "/" + file]
        for (name, value) in variables.sorted(by: { $0.key < $1.key }) { arguments += ["-v", "\(name)=\(value)"] }
        let process = try WebhookdProcess(executable: "/usr/bin/psql", arguments)
        let status = try #require(process.waitForExit(timeout: .seconds(60)), "psql -f \(file) did not finish")
        return PSQLRun(status: status, stdout: process.output, stderr: process.errorOutput)
    }

    /// What one `psql -f` run left behind.
    struct PSQLRun {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    // MARK: - Views

    @Test("every view answers on a populated database with the rows it promises")
    func viewsAnswer() throws {
        let (database, samples) = try Self.populated()
        let connection = try database.connect()

        for view in Self.views {
            // The view names are this test's own constants; identifiers cannot be bound parameters.
            let result = try connection.query("SELECT * FROM \(view)")
            #expect(result.rowCount > 0, "\(view) returned no rows")
        }

        let recent = try connection.query("SELECT id::text, body_bytes FROM recent_deliveries")
        // The last 24 hours only, newest first.
        #expect(
            (0..<recent.rowCount).compactMap { recent.string($0, 0) }
                == samples.allOldestFirst.dropFirst().reversed())
        #expect(recent.int(1, 1) == SampleDeliveries.binaryBody.count)

        let hourly = try connection.query(
            "SELECT client_id, sum(deliveries)::int FROM deliveries_per_client_hour GROUP BY 1 ORDER BY 1")
        #expect(hourly.string(0, 0) == "acme" && hourly.int(0, 1) == 4)
        #expect(hourly.string(1, 0) == "globex" && hourly.int(1, 1) == 2)

        let rejections = try connection.query(
            "SELECT stage, reason, rejections::int, peers::int, client_ids FROM rejections_last_hour")
        #expect(rejections.rowCount == 2, "the 'expired' refusal two hours ago is outside the hour")
        #expect(rejections.string(0, 0) == "handshake" && rejections.string(0, 1) == "unknown_issuer")
        #expect(rejections.int(0, 2) == 3 && rejections.int(0, 3) == 2)
        #expect(rejections.string(1, 1) == "endpoint_not_granted" && rejections.int(1, 2) == 2)
        #expect(rejections.textArray(1, 4) == ["acme"])

        let duplicates = try connection.query("SELECT client_id, deliveries::int, ids::text[] FROM duplicates")
        #expect(duplicates.rowCount == 1)
        #expect(duplicates.string(0, 0) == "acme" && duplicates.int(0, 1) == 2)
        #expect(duplicates.textArray(0, 2) == [samples.acmeInvoicePaid, samples.acmeInvoicePaidAgain])

        let expiring = try connection.query("SELECT client_id, reasons FROM clients_expiring ORDER BY client_id")
        let reasons = Dictionary(
            uniqueKeysWithValues: (0..<expiring.rowCount).map {
                (expiring.string($0, 0) ?? "", expiring.textArray($0, 1) ?? [])
            })
        #expect(
            reasons == [
                "acme": ["certificate_expires_soon"], "globex": ["not_seen_7_days"], "initech": ["never_seen"],
            ], "umbrella is disabled, so it needs no attention")
    }

    @Test("the optional inspection indexes: not migrated, added by psql -f (twice is a no-op), GIN serves @>")
    func optionalIndexesServeContainment() throws {
        let (database, _) = try Self.populated()
        let connection = try database.connect()
        let optional = ["deliveries_body_json", "deliveries_cert_sha256", "deliveries_client_body_sha256"]
        let names = "SELECT indexname FROM pg_indexes WHERE tablename = 'deliveries' AND indexname = ANY($1::text[])"
        #expect(try connection.query(names, [.textArray(optional)]).rowCount == 0, "off the write path by default")
        for _ in 0..<2 {
            let process = try WebhookdProcess(
                executable: "/usr/bin/psql",
                [
                    "-X", "--no-psqlrc", "-d", database.url, "-f",
                    TestDatabase.sqlDirectory + "/optional/inspection_indexes.sql",
                ])
            let status = try #require(process.waitForExit(timeout: .seconds(60)), "psql -f did not finish")
            #expect(status == 0, "\(process.errorOutput)")
        }
        let added = try connection.query(names + " ORDER BY 1", [.textArray(optional)])
        #expect((0..<added.rowCount).compactMap { added.string($0, 0) } == optional)
        let definition = try connection.query(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'deliveries' AND indexname = 'deliveries_body_json'")
        #expect(definition.string(0, 0)?.contains("USING gin (body_json jsonb_path_ops)") == true)
        // Six rows are cheaper to scan than to look up, so let the planner consider the index only.
        try connection.query("SET enable_seqscan = off")
        let plan = try connection.query(
            "EXPLAIN SELECT id FROM deliveries WHERE body_json @> $1::jsonb", [.text(#"{"type":"invoice.paid"}"#)])
        let text = (0..<plan.rowCount).compactMap { plan.string($0, 0) }.joined(separator: "\n")
        #expect(text.contains("deliveries_body_json"), "\(text)")
    }

    // MARK: - Recipes

    @Test("every recipe in sql/queries runs with psql -f and its documented defaults")
    func everyRecipeRunsWithDefaults() throws {
        let (database, samples) = try Self.populated()
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.queriesDirectory)
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.count >= 8)
        for file in files {
            let contents = try String(contentsOfFile: Self.queriesDirectory + "/" + file, encoding: .utf8)
            #expect(contents.hasPrefix("-- "), "\(file) starts with a comment that says what it does")
            #expect(contents.contains("\\set ON_ERROR_STOP on"), "\(file) stops at the first error")
            // done.sql needs the ids it marks; everything else has a default for every variable.
            let variables = file == "done.sql" ? ["ids": samples.acmeInvoicePaid] : [:]
            let result = try Self.psql(file, variables, on: database)
            #expect(result.status == 0, "\(file): \(result.stderr)")
            #expect(result.stderr.isEmpty, "\(file): \(result.stderr)")
        }
    }

    @Test("by_json_field.sql finds deliveries by JSON content, the default and a nested match")
    func byJSONField() throws {
        let (database, samples) = try Self.populated()
        let byDefault = try Self.psql("by_json_field.sql", on: database)
        #expect(byDefault.status == 0, "\(byDefault.stderr)")
        #expect(byDefault.stdout.contains(samples.acmeInvoicePaid))
        #expect(byDefault.stdout.contains(samples.acmeInvoicePaidAgain))
        #expect(!byDefault.stdout.contains(samples.acmeInvoiceCreated))
        #expect(byDefault.stdout.contains("(2 rows)"))

        let nested = try Self.psql(
            "by_json_field.sql", ["match": #"{"data": {"amount": 990}}"#, "limit": "5"], on: database)
        #expect(nested.status == 0, "\(nested.stderr)")
        #expect(nested.stdout.contains(samples.acmeInvoiceCreated))
        #expect(nested.stdout.contains("(1 row)"))

        // A quote in the value cannot escape the literal psql builds from :'match'.
        let hostile = try Self.psql("by_json_field.sql", ["match": "{}'; DELETE FROM deliveries; --"], on: database)
        #expect(hostile.status != 0)
        #expect(hostile.stderr.contains("invalid input syntax for type json"))
        let connection = try database.connect()
        #expect(try connection.query("SELECT count(*) FROM deliveries").int(0, 0) == 6)
    }

    @Test("by_idempotency_key.sql finds the delivery of a client's key, and nothing for another client")
    func byIdempotencyKey() throws {
        let (database, samples) = try Self.populated()
        let byDefault = try Self.psql("by_idempotency_key.sql", on: database)
        #expect(byDefault.stdout.contains(samples.acmeInvoicePaid), "default: acme evt_0001\n\(byDefault.stdout)")
        #expect(byDefault.stdout.contains("\"invoice.paid\""), "the body, pretty-printed")

        let second = try Self.psql("by_idempotency_key.sql", ["client": "acme", "key": "evt_0002"], on: database)
        #expect(second.stdout.contains(samples.acmeInvoiceCreated))
        #expect(second.stdout.contains("(1 row)"))
        let other = try Self.psql("by_idempotency_key.sql", ["client": "globex", "key": "evt_0002"], on: database)
        #expect(other.stdout.contains("(0 rows)"))
        let text = try Self.psql("by_idempotency_key.sql", ["client": "globex", "key": "gh-1"], on: database)
        #expect(text.stdout.contains(samples.globexText))
        #expect(text.stdout.contains("hello refund"))
    }

    @Test("last_payloads.sql shows a client's last N payloads: JSON pretty, binary as size and hash")
    func lastPayloads() throws {
        let (database, samples) = try Self.populated()
        let result = try Self.psql("last_payloads.sql", ["client": "acme", "n": "2"], on: database)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(samples.acmeBinary))
        #expect(result.stdout.contains("(binary, 12 bytes, sha256 "))
        #expect(result.stdout.contains(samples.acmeInvoicePaidAgain))
        #expect(result.stdout.contains("\"customer\": \"cus_42\""))
        #expect(!result.stdout.contains(samples.acmeInvoiceCreated))
        #expect(result.stdout.contains("(2 rows)"))
    }

    @Test("body_as_text.sql decodes a text body, shows a binary one as hex, and defaults to the latest")
    func bodyAsText() throws {
        let (database, samples) = try Self.populated()
        let text = try Self.psql("body_as_text.sql", ["id": samples.globexText], on: database)
        #expect(text.stdout.contains("hello refund"))
        let latest = try Self.psql("body_as_text.sql", on: database)
        #expect(latest.stdout.contains(samples.globexText), "the default is the most recent delivery")
        let binary = try Self.psql("body_as_text.sql", ["id": samples.acmeBinary], on: database)
        #expect(binary.stdout.contains("89504e470d0a1a0a00ff107f"))
        let json = try Self.psql("body_as_text.sql", ["id": samples.acmeInvoiceCreated], on: database)
        #expect(json.stdout.contains(#"{"type":"invoice.created","data":{"invoice":"in_2","amount":990}}"#))
    }

    @Test("by_certificate.sql lists what one fingerprint delivered, given with colons and in upper case")
    func byCertificate() throws {
        let (database, samples) = try Self.populated()
        let fingerprint = stride(from: 0, to: 64, by: 2).map { offset in
            let start = SampleDeliveries.acmeCertificate.index(
                SampleDeliveries.acmeCertificate.startIndex, offsetBy: offset)
            return SampleDeliveries.acmeCertificate[start...].prefix(2).uppercased()
        }.joined(separator: ":")
        let result = try Self.psql("by_certificate.sql", ["sha256": fingerprint], on: database)
        #expect(result.status == 0, "\(result.stderr)")
        for id in [
            samples.acmeInvoicePaid, samples.acmeInvoiceCreated, samples.acmeInvoicePaidAgain, samples.acmeBinary,
        ] {
            #expect(result.stdout.contains(id))
        }
        #expect(!result.stdout.contains(samples.globexText))
        #expect(result.stdout.contains("CN=acme,O=Example"))
        #expect(result.stdout.contains("(4 rows)"))
    }

    @Test("claim.sql claims the oldest pending deliveries, done.sql marks them, release_stale.sql frees stale ones")
    func claimDoneRelease() throws {
        let (database, samples) = try Self.populated()
        let connection = try database.connect()
        let claimed = try Self.psql("claim.sql", ["n": "2"], on: database)
        #expect(claimed.status == 0, "\(claimed.stderr)")
        #expect(claimed.stdout.contains(samples.globexOld) && claimed.stdout.contains(samples.acmeInvoicePaid))
        #expect(claimed.stdout.contains("(2 rows)"))
        let again = try Self.psql("claim.sql", ["n": "1"], on: database)
        #expect(again.stdout.contains(samples.acmeInvoiceCreated), "the next oldest pending one")

        let done = try Self.psql(
            "done.sql", ["ids": samples.globexOld + "," + samples.acmeInvoicePaid], on: database)
        #expect(done.status == 0, "\(done.stderr)")
        #expect(done.stdout.contains("(2 rows)"))
        let states = try connection.query(
            """
            SELECT id::text, processing_state, claimed_at IS NOT NULL, processed_at IS NOT NULL
            FROM deliveries ORDER BY received_at
            """)
        #expect(states.string(0, 1) == "done" && states.bool(0, 2) == true && states.bool(0, 3) == true)
        #expect(states.string(1, 1) == "done")
        #expect(states.string(2, 1) == "claimed" && states.bool(2, 3) == false)
        #expect(states.string(3, 1) == "pending")
        let twice = try Self.psql("done.sql", ["ids": samples.globexOld], on: database)
        #expect(twice.stdout.contains("(0 rows)"), "only claimed rows change")

        let missing = try Self.psql("done.sql", on: database)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("-v ids="))

        // The third claim is 20 minutes old: past release_stale's 15-minute default.
        try connection.query(
            "UPDATE deliveries SET claimed_at = now() - interval '20 minutes' WHERE id = $1::uuid",
            [.text(samples.acmeInvoiceCreated)])
        let released = try Self.psql("release_stale.sql", on: database)
        #expect(released.stdout.contains(samples.acmeInvoiceCreated))
        let state = try connection.query(
            "SELECT processing_state, claimed_at FROM deliveries WHERE id = $1::uuid",
            [.text(samples.acmeInvoiceCreated)])
        #expect(state.string(0, 0) == "pending" && state.isNull(0, 1))
    }

    // MARK: - Read-only role

    @Test("webhookd_reader can SELECT every table and view, and INSERT, UPDATE and DELETE fail with 42501")
    func readerIsReadOnly() throws {
        let (database, _) = try Self.populated()
        let connection = try database.connect()
        let role = try connection.query(
            "SELECT rolcanlogin, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = 'webhookd_reader'")
        #expect(role.rowCount == 1)
        #expect(role.bool(0, 0) == false, "NOLOGIN until an operator gives it a password")
        #expect(role.bool(0, 1) == false && role.bool(0, 2) == false)

        try connection.query("SET ROLE webhookd_reader")
        for relation in Self.tables + Self.views {
            // The relation names are this test's own constants; identifiers cannot be bound parameters.
            #expect(throws: Never.self, "SELECT from \(relation)") {
                try connection.query("SELECT count(*) FROM \(relation)")
            }
        }
        #expect(try connection.query("SELECT webhookd_body_text(body) FROM deliveries").rowCount == 6)

        let writes = [
            "INSERT INTO clients (client_id) VALUES ('mallory')",
            "UPDATE deliveries SET processing_state = 'claimed'",
            "DELETE FROM deliveries",
            "DELETE FROM rejections",
            "UPDATE clients SET enabled = false",
            "INSERT INTO rejections (stage, reason) VALUES ('handshake', 'expired')",
            "UPDATE clients_audit SET actor = 'nobody'",
            "DELETE FROM clients_audit",
        ]
        for statement in writes {
            let error = #expect(throws: PostgresError.self, "\(statement)") { try connection.query(statement) }
            #expect(error?.sqlState == "42501", "\(statement): \(String(describing: error))")
        }
        try connection.query("RESET ROLE")
        #expect(try connection.query("SELECT count(*) FROM deliveries").int(0, 0) == 6)
    }

    @Test("the migration is safe on a second database of the same cluster: the role exists once, granted in both")
    func roleAcrossDatabases() throws {
        let first = try TestDatabase.create()
        let second = try TestDatabase.create()
        for database in [first, second] {
            let connection = try database.connect()
            let grants = try connection.query(
                "SELECT has_table_privilege('webhookd_reader', 'deliveries', 'SELECT'), "
                    + "has_table_privilege('webhookd_reader', 'deliveries', 'INSERT'), "
                    + "has_database_privilege('webhookd_reader', current_database(), 'CONNECT')")
            #expect(grants.bool(0, 0) == true && grants.bool(0, 1) == false && grants.bool(0, 2) == true)
            #expect(
                try connection.query("SELECT count(*) FROM pg_roles WHERE rolname = 'webhookd_reader'").int(0, 0) == 1)
        }
    }

    // MARK: - Claiming from two workers

    /// claim.sql's statement, with `:'n'` bound as `$1`: the recipe itself, not a copy.
    static func claimStatement() throws -> String {
        let text = try String(contentsOfFile: queriesDirectory + "/claim.sql", encoding: .utf8)
        let statement = text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { line in
                let trimmed = line.drop { $0 == " " }
                return !trimmed.hasPrefix("--") && !trimmed.hasPrefix("\\")
            }
            .joined(separator: "\n")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(statement.contains(":'n'::integer"))
        #expect(statement.contains("FOR UPDATE SKIP LOCKED"))
        return
            String(statement.replacingOccurrences(of: ":'n'", with: "$1").dropLast(statement.hasSuffix(";") ? 1 : 0))
    }

    @Test("two workers running claim.sql at once, in transactions, never claim the same delivery")
    func twoWorkersNeverClaimTheSameDelivery() throws {
        let database = try TestDatabase.create()
        let statement = try Self.claimStatement()
        let setup = try database.connect()
        let total = 400
        try setup.query(
            """
            INSERT INTO deliveries (received_at, client_id, endpoint, method, path, body, body_sha256)
            SELECT now() - make_interval(secs => n), 'acme', 'orders', 'POST', '/webhooks/orders',
                   convert_to(n::text, 'UTF8'), encode(sha256(convert_to(n::text, 'UTF8')), 'hex')
            FROM generate_series(1, $1::integer) AS n
            """, [.int(total)])

        let claims = Mutex<[[String]]>([[], []])
        let failures = Mutex<[String]>([])
        let connected = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let finished = DispatchGroup()
        for worker in 0..<2 {
            finished.enter()
            // Real threads, each with its own session, so the two claims really overlap in the server.
            Thread.detachNewThread {
                defer { finished.leave() }
                do {
                    let connection = try database.connect()
                    connected.signal()
                    go.wait()
                    var mine: [String] = []
                    var batch = 0
                    while true {
                        batch += 1
                        let ids = try connection.transaction {
                            let result = try connection.query(statement, [.int(1 + batch % 4)])
                            // Hold the claim a moment inside the transaction, as a worker that processes would.
                            try connection.query("SELECT count(*) FROM deliveries WHERE processing_state = 'pending'")
                            return (0..<result.rowCount).compactMap { result.string($0, 0) }
                        }
                        if ids.isEmpty { break }
                        mine += ids
                    }
                    claims.withLock { $0[worker] = mine }
                } catch {
                    connected.signal()
                    failures.withLock { $0.append(String(describing: error)) }
                }
            }
        }
        for _ in 0..<2 { connected.wait() }
        go.signal()
        go.signal()
        #expect(finished.wait(timeout: .now() + 120) == .success)
        #expect(failures.withLock { $0 }.isEmpty)

        let (first, second) = claims.withLock { ($0[0], $0[1]) }
        #expect(Set(first).count == first.count, "a worker never gets a delivery twice")
        #expect(Set(second).count == second.count)
        let both = Set(first).intersection(second)
        #expect(both.isEmpty, "\(both.count) deliveries were claimed by both workers, e.g. \(both.first ?? "")")
        #expect(first.count + second.count == total, "every delivery is claimed exactly once")
        #expect(!first.isEmpty && !second.isEmpty, "both workers got work (they ran concurrently)")
        let states = try setup.query(
            "SELECT count(*) FILTER (WHERE processing_state = 'claimed' AND claimed_at IS NOT NULL) FROM deliveries")
        #expect(states.int(0, 0) == total)
    }
}

/// docker-compose.yml and the Dockerfile: validated by `docker-compose config` (or `docker compose config`)
/// when one is installed; otherwise the file is checked for what the compose setup promises. There is no
/// Docker engine here, so nothing is built or started.
@Suite("InspectionKit compose")
struct InspectionKitComposeTests {
    static var repository: String { URL(fileURLWithPath: TestDatabase.sqlDirectory).deletingLastPathComponent().path }

    /// `docker-compose` (Debian's package), else `docker compose` (the plugin), else nil.
    static func composeCommand() -> (executable: String, arguments: [String])? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        func find(_ name: String) -> String? {
            path.split(separator: ":").map { "\($0)/\(name)" }.first {
                FileManager.default.isExecutableFile(atPath: $0)
            }
        }
        if let standalone = find("docker-compose") { return (standalone, []) }
        if let docker = find("docker"), let probe = try? WebhookdProcess(executable: docker, ["compose", "version"]),
            probe.waitForExit(timeout: .seconds(30)) == 0
        {
            return (docker, ["compose"])
        }
        return nil
    }

    @Test("docker-compose.yml defines postgres and webhookd with /readyz health checks and certs/ mounted")
    func composeFileDescribesTheStack() throws {
        let compose = try String(contentsOfFile: Self.repository + "/docker-compose.yml", encoding: .utf8)
        for expected in ["services:", "postgres:", "webhookd:", "/readyz", "./certs:", "healthcheck:", "DATABASE_URL"] {
            #expect(compose.contains(expected), "docker-compose.yml mentions \(expected)")
        }
        let dockerfile = try String(contentsOfFile: Self.repository + "/Dockerfile", encoding: .utf8)
        #expect(dockerfile.contains(" AS build"), "a build stage")
        #expect(dockerfile.contains("FROM debian:bookworm-slim"))
        #expect(dockerfile.contains("libssl3") && dockerfile.contains("libpq5"))
        let ignored = try String(contentsOfFile: Self.repository + "/.dockerignore", encoding: .utf8)
        #expect(ignored.contains("certs") && ignored.contains(".build"), "keys and build trees stay out of images")
    }

    /// Without docker-compose: the YAML must at least parse (PyYAML, when python3 has it) and name both
    /// services. Documented in docs/operations.md: `make deps-compose` installs Debian's docker-compose.
    static func parseWithPython() throws {
        let script = """
            import sys
            try:
                import yaml
            except ImportError:
                print("no PyYAML"); sys.exit(0)
            services = yaml.safe_load(open(sys.argv[1]))["services"]
            assert {"postgres", "migrate", "webhookd"} <= set(services), services
            assert "/readyz" in " ".join(services["webhookd"]["healthcheck"]["test"])
            """
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
            print("neither docker-compose nor python3 is installed; docker-compose.yml was checked as text only")
            return
        }
        let process = try WebhookdProcess(
            executable: "/usr/bin/python3", ["-c", script, repository + "/docker-compose.yml"])
        let status = try #require(process.waitForExit(timeout: .seconds(30)))
        #expect(status == 0, "docker-compose.yml does not parse as expected: \(process.errorOutput)")
        if process.output.contains("no PyYAML") {
            print("neither docker-compose nor PyYAML is installed; docker-compose.yml was checked as text only")
        }
    }

    @Test("docker-compose config accepts docker-compose.yml; without docker-compose, PyYAML parses it")
    func composeConfigIsValid() throws {
        guard let command = Self.composeCommand() else {
            try Self.parseWithPython()
            return
        }
        let process = try WebhookdProcess(
            executable: command.executable,
            command.arguments + [
                "--project-directory", Self.repository, "-f", Self.repository + "/docker-compose.yml",
                "config", "-q",
            ])
        let status = try #require(process.waitForExit(timeout: .seconds(60)))
        #expect(status == 0, "\(command.executable) config: \(process.errorOutput)")
    }
}
