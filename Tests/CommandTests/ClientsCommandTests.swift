import Foundation
import Glibc
import Postgres
import TestSupport
import Testing

/// `webhookd migrate` and `webhookd clients …`: the real binary, run as a subprocess against a fresh
/// database (or, once, the embedded cluster), checked by exit status and output.
@Suite("ClientsCommand")
struct ClientsCommandTests {
    /// SPEC's `clients` columns: the keys of `clients list --json` objects.
    static let specColumns: Set<String> = [
        "client_id", "description", "enabled", "endpoints", "pins_sha256", "issuers_sha256", "created_at",
        "updated_at", "last_seen_at", "last_cert_not_after", "max_connections", "rate_per_second", "burst",
        "signature_scheme", "signature_mode", "signature_secrets",
    ]

    /// `webhookd arguments… --database-url <database> --sql-dir <repo sql/>`.
    func run(_ arguments: [String], on database: TestDatabase) throws -> CommandResult {
        try TestSupportProcess.runWebhookd(
            arguments + ["--database-url", database.url, "--sql-dir", TestDatabase.sqlDirectory])
    }

    @Test("migrate applies the schema, and a second run says the database is up to date (exit 0 both times)")
    func migrateTwice() throws {
        let database = try TestDatabase.create(migrated: false)
        let first = try run(["migrate"], on: database)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("001_schema.sql"))
        #expect(first.stderr.isEmpty)
        let second = try run(["migrate"], on: database)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("up to date"))
        #expect(!second.stdout.contains("applying"))
    }

    @Test("clients add then list shows the client and its endpoints in an aligned table")
    func addThenListAsTable() throws {
        let database = try TestDatabase.create()
        let added = try run(["clients", "add", "acme", "--endpoint", "orders"], on: database)
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stdout.contains("acme"))
        let longer = try run(
            ["clients", "add", "a-much-longer-client-id", "--endpoint", "billing", "--endpoint", "refunds"],
            on: database)
        #expect(longer.status == 0, "\(longer.stderr)")

        let listed = try run(["clients", "list"], on: database)
        #expect(listed.status == 0, "\(listed.stderr)")
        let lines = listed.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 3, "header + two clients:\n\(listed.stdout)")
        let header = lines[0]
        let acme = try #require(lines.first { $0.hasPrefix("acme ") })
        let longerLine = try #require(lines.first { $0.hasPrefix("a-much-longer-client-id ") })
        #expect(acme.contains("orders"))
        #expect(longerLine.contains("billing,refunds"))
        // Aligned: each row's endpoint cell starts in the ENDPOINTS header's column.
        let column = try #require(header.range(of: "ENDPOINTS")).lowerBound.utf16Offset(in: header)
        #expect(try #require(acme.range(of: "orders")).lowerBound.utf16Offset(in: acme) == column)
        #expect(try #require(longerLine.range(of: "billing")).lowerBound.utf16Offset(in: longerLine) == column)
    }

    @Test("clients list --json and show --json print SPEC's column names")
    func listAsJSON() throws {
        let database = try TestDatabase.create()
        let pin = String(repeating: "AB:", count: 31) + "AB"
        let added = try run(
            ["clients", "add", "acme", "--endpoint", "orders", "--description", "Acme \"Corp\"", "--pin-sha256", pin],
            on: database)
        #expect(added.status == 0, "\(added.stderr)")

        let listed = try run(["clients", "list", "--json"], on: database)
        #expect(listed.status == 0, "\(listed.stderr)")
        let parsed = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8))
        let clients = try #require(parsed as? [[String: Any]])
        try #require(clients.count == 1)
        let acme = clients[0]
        #expect(Set(acme.keys) == Self.specColumns)
        #expect(acme["client_id"] as? String == "acme")
        #expect(acme["endpoints"] as? [String] == ["orders"])
        #expect(acme["enabled"] as? Bool == true)
        #expect(acme["description"] as? String == "Acme \"Corp\"")
        #expect(acme["pins_sha256"] as? [String] == [String(repeating: "ab", count: 32)])
        #expect(acme["last_seen_at"] is NSNull)

        let shown = try run(["clients", "show", "acme", "--json"], on: database)
        #expect(shown.status == 0, "\(shown.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == Self.specColumns)

        let empty = try run(["clients", "list", "--json"], on: try TestDatabase.create())
        #expect(try JSONSerialization.jsonObject(with: Data(empty.stdout.utf8)) as? [Any] != nil)
    }

    @Test("disable, enable, grant, revoke-endpoint and remove change what show and list print")
    func managementCommands() throws {
        let database = try TestDatabase.create()
        #expect(try run(["clients", "add", "acme"], on: database).status == 0)
        #expect(try run(["clients", "grant", "acme", "orders"], on: database).status == 0)
        #expect(try run(["clients", "grant", "acme", "*"], on: database).status == 0)
        #expect(try run(["clients", "revoke-endpoint", "acme", "orders"], on: database).status == 0)
        #expect(try run(["clients", "disable", "acme"], on: database).status == 0)
        let shown = try run(["clients", "show", "acme"], on: database)
        #expect(shown.status == 0)
        #expect(shown.stdout.contains("enabled: false"))
        #expect(shown.stdout.contains("endpoints: *"))
        #expect(try run(["clients", "enable", "acme"], on: database).stdout.contains("enabled"))
        #expect(try run(["clients", "show", "acme"], on: database).stdout.contains("enabled: true"))
        #expect(try run(["clients", "remove", "acme"], on: database).status == 0)
        let listed = try run(["clients", "list"], on: database)
        #expect(listed.status == 0)
        #expect(!listed.stdout.contains("acme"))
    }

    @Test("adding an existing client exits 1 with one stderr line pointing to grant/enable")
    func duplicateAddExitsOne() throws {
        let database = try TestDatabase.create()
        #expect(try run(["clients", "add", "acme", "--endpoint", "orders"], on: database).status == 0)
        let again = try run(["clients", "add", "acme"], on: database)
        #expect(again.status == 1)
        #expect(again.stdout.isEmpty)
        let lines = again.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(again.stderr)")
        #expect(again.stderr.contains("grant"))
        #expect(again.stderr.contains("enable"))
    }

    @Test("show, disable and remove of an unknown client exit 1 naming it")
    func unknownClientExitsOne() throws {
        let database = try TestDatabase.create()
        for command in [["show"], ["disable"], ["enable"], ["remove"], ["grant"], ["revoke-endpoint"]] {
            let extra = command == ["grant"] || command == ["revoke-endpoint"] ? ["orders"] : []
            let result = try run(["clients"] + command + ["nobody"] + extra, on: database)
            #expect(result.status == 1, "\(command)")
            #expect(result.stderr.contains("nobody"), "\(command)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(command): \(result.stderr)")
        }
    }

    @Test("an invalid endpoint exits 1 naming it, and stores nothing")
    func badEndpointExitsOne() throws {
        let database = try TestDatabase.create()
        let result = try run(["clients", "add", "acme", "--endpoint", "a/b"], on: database)
        #expect(result.status == 1)
        #expect(result.stderr.contains("'a/b'"))
        #expect(result.stderr.split(separator: "\n").count == 1)
        let pin = try run(["clients", "add", "acme", "--pin-sha256", String(repeating: "a", count: 63)], on: database)
        #expect(pin.status == 1)
        #expect(pin.stderr.contains("--pin-sha256"))
        let listed = try run(["clients", "list"], on: database)
        #expect(!listed.stdout.contains("acme"))
    }

    @Test("an unreachable database URL exits 64 with one line naming it")
    func unreachableDatabaseExits64() throws {
        let closed = try RefusingLoopbackPort()
        let url = "postgresql://webhookd:secret-password@127.0.0.1:\(closed.port)/webhookd"
        for command in [["clients", "list"], ["migrate", "--sql-dir", TestDatabase.sqlDirectory]] {
            let result = try TestSupportProcess.runWebhookd(command + ["--database-url", url])
            #expect(result.status == 64, "\(command): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("127.0.0.1:\(closed.port)"))
            #expect(result.stderr.lowercased().contains("refused"))
            #expect(!result.stderr.contains("secret-password"))
        }
    }

    @Test("a database URL with another scheme exits 64 with one line that does not repeat the password")
    func badURLSchemeExits64() throws {
        let result = try TestSupportProcess.runWebhookd(
            ["clients", "list", "--database-url", "mysql://webhookd:secret-password@127.0.0.1/webhookd"])
        #expect(result.status == 64)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("postgresql://"))
        #expect(!result.stderr.contains("secret-password"))
    }

    @Test("DATABASE_URL is used when no --database-url is given, and the flag wins over it")
    func databaseURLEnvironment() throws {
        let database = try TestDatabase.create()
        let viaEnvironment = try TestSupportProcess.runWebhookd(
            ["clients", "add", "from-env", "--endpoint", "orders"], environment: ["DATABASE_URL": database.url])
        #expect(viaEnvironment.status == 0, "\(viaEnvironment.stderr)")

        let closed = try RefusingLoopbackPort()
        let flagWins = try TestSupportProcess.runWebhookd(
            ["clients", "list", "--database-url", database.url],
            environment: ["DATABASE_URL": "postgresql://webhookd@127.0.0.1:\(closed.port)/nothing"])
        #expect(flagWins.status == 0, "\(flagWins.stderr)")
        #expect(flagWins.stdout.contains("from-env"))

        let sqlFromEnvironment = try TestSupportProcess.runWebhookd(
            ["migrate"],
            environment: ["DATABASE_URL": database.url, "WEBHOOKD_SQL_DIR": TestDatabase.sqlDirectory])
        #expect(sqlFromEnvironment.status == 0, "\(sqlFromEnvironment.stderr)")
        #expect(sqlFromEnvironment.stdout.contains("up to date"))
    }

    @Test("with no URL the embedded cluster under --data-dir / WEBHOOKD_DATA_DIR is started and stopped again")
    func embeddedDefault() throws {
        let directory = try TestCluster.makeReachableDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }  // Only tidying /tmp.
        let sql = TestDatabase.sqlDirectory

        let migrated = try TestSupportProcess.runWebhookd(["migrate", "--data-dir", directory, "--sql-dir", sql])
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.contains("001_schema.sql"))
        #expect(TestCluster.serverPID(dataDirectory: directory) == nil, "migrate left PostgreSQL running")

        let added = try TestSupportProcess.runWebhookd(
            ["clients", "add", "acme", "--endpoint", "orders", "--data-dir", directory])
        #expect(added.status == 0, "\(added.stderr)")

        let listed = try TestSupportProcess.runWebhookd(
            ["clients", "list"], environment: ["WEBHOOKD_DATA_DIR": directory])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("acme"))
        #expect(listed.stdout.contains("orders"))

        #expect(FileManager.default.fileExists(atPath: directory + "/postgres/PG_VERSION"))
        #expect(TestCluster.serverPID(dataDirectory: directory) == nil, "PostgreSQL still runs for \(directory)")
    }

    @Test("a command next to another holder of the embedded cluster shares it: no hang, and it keeps running")
    func embeddedClusterSharedWithAnotherHolder() throws {
        let directory = try TestCluster.makeReachableDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }  // Only tidying /tmp.
        var cluster = EmbeddedCluster(dataDirectory: directory)
        cluster.serverSettings = ["fsync": "off", "full_page_writes": "off"]
        cluster.initdbArguments = ["--no-sync"]
        // This test process plays the long-running `serve`: it holds a lease throughout.
        let lease = try cluster.start()
        let serverPID = try #require(TestCluster.serverPID(dataDirectory: directory))

        let sql = TestDatabase.sqlDirectory
        for arguments in [["migrate", "--sql-dir", sql], ["clients", "add", "acme"], ["clients", "list"]] {
            let result = try TestSupportProcess.runWebhookd(
                arguments + ["--data-dir", directory], timeout: .seconds(30))
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            let runningPID = TestCluster.serverPID(dataDirectory: directory)
            #expect(runningPID == serverPID, "\(arguments) restarted or stopped the server")
        }
        lease.release()
        #expect(TestCluster.serverPID(dataDirectory: directory) == nil)
    }
}

extension ClientsCommandTests {
    /// The subprocess helpers themselves, which the end-to-end suites build on.
    @Suite("WebhookdProcess")
    struct ProcessHelperTests {
        @Test("a long-running child: waitForLine sees its output, signal ends it, waitForExit reports it")
        func longRunningChild() throws {
            let child = try WebhookdProcess(
                executable: "/bin/sh", ["-c", "echo ready; echo to-stderr >&2; exec sleep 600"])
            #expect(try child.waitForLine(containing: "ready") == "ready")
            #expect(try child.waitForLine(containing: "to-stderr") == "to-stderr")
            #expect(child.waitForExit(timeout: .zero) == nil)
            child.signal(SIGTERM)
            #expect(child.waitForExit(timeout: .seconds(30)) == 128 + SIGTERM)
            #expect(child.output == "ready\n")
            #expect(child.errorOutput == "to-stderr\n")
            child.signal(SIGTERM)  // After the exit: a no-op, never a signal to a reused pid.
        }

        @Test("a child still running when its WebhookdProcess goes away is ended and reaped")
        func deinitEndsTheChild() throws {
            var pid: Int32 = 0
            do {
                let child = try WebhookdProcess(executable: "/bin/sh", ["-c", "echo up; exec sleep 600"])
                pid = child.pid
                _ = try child.waitForLine(containing: "up")
            }
            // Reaped in deinit: the pid no longer names a process (not even a zombie).
            #expect(kill(pid, 0) == -1 && errno == ESRCH)
        }

        @Test("waitForLine fails with the output when the child exits without printing the line")
        func waitForLineFailsOnExit() throws {
            let child = try WebhookdProcess(executable: "/bin/sh", ["-c", "echo something else; exit 3"])
            let failure = #expect(throws: TestSupportProcessFailure.self) {
                try child.waitForLine(containing: "never printed")
            }
            #expect(failure?.description.contains("something else") == true)
            #expect(child.waitForExit(timeout: .seconds(30)) == 3)
        }

        @Test("the real binary runs as a WebhookdProcess and its output can be awaited")
        func realBinary() throws {
            let database = try TestDatabase.create()
            #expect(try run(["clients", "add", "acme"], on: database).status == 0)
            let child = try WebhookdProcess(["clients", "list", "--database-url", database.url])
            #expect(try child.waitForLine(containing: "acme").hasPrefix("acme"))
            #expect(child.waitForExit(timeout: .seconds(60)) == 0)
        }

        func run(_ arguments: [String], on database: TestDatabase) throws -> CommandResult {
            try TestSupportProcess.runWebhookd(arguments + ["--database-url", database.url])
        }
    }
}

@Suite("clients limit")
struct ClientsLimitCommandTests {
    func run(_ arguments: [String], on database: TestDatabase) throws -> CommandResult {
        try TestSupportProcess.runWebhookd(arguments + ["--database-url", database.url])
    }

    @Test("limit sets and clears connections, rate and burst; show, list and --json print them; bad values exit 64")
    func limitsRoundTrip() throws {
        let database = try TestDatabase.create()
        #expect(try run(["clients", "add", "acme", "--endpoint", "orders"], on: database).status == 0)
        let set = try run(
            ["clients", "limit", "acme", "--connections", "4", "--rate", "2.5", "--burst", "5"], on: database)
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stdout.contains("max_connections: 4"))
        #expect(set.stdout.contains("rate_per_second: 2.5"))
        let shown = try run(["clients", "show", "acme", "--json"], on: database)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        #expect(object["max_connections"] as? Int == 4)
        #expect(object["rate_per_second"] as? Double == 2.5)
        #expect(object["burst"] as? Int == 5)
        #expect(try run(["clients", "list"], on: database).stdout.contains("2.5/s +5"))
        let cleared = try run(["clients", "limit", "acme", "--rate", "none", "--connections", "none"], on: database)
        #expect(cleared.stdout.contains("rate_per_second: unlimited"), "\(cleared.stdout)")
        #expect(cleared.stdout.contains("max_connections: default"))
        for bad in [["--rate", "0"], ["--connections=-1"], ["--rate", "fast"], []] {
            let result = try run(["clients", "limit", "acme"] + bad, on: database)
            #expect(result.status == 64 || result.status == 1, "\(bad): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(bad): \(result.stderr)")
        }
        #expect(try run(["clients", "limit", "nobody", "--rate", "1"], on: database).status == 1)
    }
}

/// `webhookd clients signature` through the binary: secret files, one-line errors naming the file, the count shown.
@Suite("clients signature")
struct ClientsSignatureCommandTests {
    @Test func secretFilesAreReadAndShowPrintsTheCountNeverTheSecret() throws {
        let database = try TestDatabase.create()
        let environment = ["DATABASE_URL": database.url, "WEBHOOKD_SQL_DIR": TestDatabase.sqlDirectory]
        let directory = try TestPKI.makeTemporaryDirectory(prefix: "sig")
        defer { try? FileManager.default.removeItem(atPath: directory) }  // a leftover temp dir harms nothing
        let good = "\(directory)/good.whsec"
        let bad = "\(directory)/bad.txt"
        try "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n".write(toFile: good, atomically: true, encoding: .utf8)
        try "not-a-whsec\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(try TestSupportProcess.runWebhookd(["clients", "add", "acme"], environment: environment).status == 0)
        let refused = try TestSupportProcess.runWebhookd(
            ["clients", "signature", "acme", "--scheme", "standard-webhooks", "--secret-file", bad],
            environment: environment)
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--secret-file \(bad) does not hold a Standard Webhooks secret"))
        let set = try TestSupportProcess.runWebhookd(
            [
                "clients", "signature", "acme", "--scheme", "standard-webhooks", "--secret-file", good, "--secret-file",
                good,
                "--optional",
            ], environment: environment)
        #expect(set.status == 0)
        #expect(set.stdout.contains("signature: standard-webhooks optional, 2 secret(s)"))
        let shown = try TestSupportProcess.runWebhookd(["clients", "show", "acme", "--json"], environment: environment)
        #expect(shown.stdout.contains("\"signature_secrets\" : 2") || shown.stdout.contains("\"signature_secrets\": 2"))
        #expect(!shown.stdout.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let off = try TestSupportProcess.runWebhookd(
            ["clients", "signature", "acme", "--off"], environment: environment)
        #expect(off.status == 0 && off.stdout.contains("signature: off"))
    }
}
