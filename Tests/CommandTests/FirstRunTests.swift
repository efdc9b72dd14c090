import Foundation
import Postgres
import TestSupport
import Testing

/// What a new user sees before the database is set up: a line that says what to run, never PostgreSQL's
/// own "relation does not exist".
@Suite("First run")
struct FirstRunTests {
    @Test("clients and deliveries on a database that was never migrated say to run webhookd migrate (exit 1)")
    func unmigratedDatabaseSaysToMigrate() throws {
        let database = try TestDatabase.create(migrated: false)
        for command in [["clients", "list"], ["deliveries", "list"], ["clients", "add", "acme", "--endpoint", "x"]] {
            let result = try TestSupportProcess.runWebhookd(command + ["--database-url", database.url])
            #expect(result.status == 1, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("run 'webhookd migrate'"), "\(command): \(result.stderr)")
            #expect(!result.stderr.contains("does not exist"), "\(command): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(command): \(result.stderr)")
        }
    }

    @Test("serve that cannot find its migrations exits 64 instead of skipping the pending-migration check")
    func serveWithoutMigrationsRefusesToStart() throws {
        // A copy of the binary away from the repository, run from a directory without sql/.
        let directory = try TestCluster.makeReachableDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }  // Only tidying /tmp.
        let binary = directory + "/webhookd"
        try FileManager.default.copyItem(atPath: try TestSupportProcess.webhookdBinary(), toPath: binary)
        let database = try TestDatabase.create()
        let pki = TestPKI.shared
        let result = try TestSupportProcess.run(
            binary,
            [
                "serve", "--listen", "127.0.0.1:0", "--cert", pki.serverCertificate, "--key", pki.serverKey,
                "--client-ca", pki.clientCABundle, "--database-url", database.url, "--admin-listen", "off",
            ], in: directory, timeout: .seconds(30))
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("--sql-dir"), "\(result.stderr)")
    }

    @Test("a client's body share outside --max-body-bytes..--max-buffered-bytes exits 64 naming the flag")
    func clientBodyShareIsValidatedAtStart() throws {
        let pki = TestPKI.shared
        for share in ["1000", "999999999", "0"] {
            let result = try TestSupportProcess.runWebhookd(
                [
                    "serve", "--listen", "127.0.0.1:0", "--cert", pki.serverCertificate, "--key", pki.serverKey,
                    "--client-ca", pki.clientCABundle, "--admin-listen", "off", "--max-buffered-bytes", "4194304",
                    "--client-max-buffered-bytes", share,
                ], timeout: .seconds(30))
            #expect(result.status == 64, "\(share): \(result.stderr)")
            #expect(result.stderr.contains("--client-max-buffered-bytes"), "\(share): \(result.stderr)")
        }
    }
}
