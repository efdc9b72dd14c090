import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 4's "done when", as the README tells it: a partner's CSR made with the openssl command becomes a
/// certificate with `certs sign-csr`, the partner is registered, delivers with curl, is revoked with
/// `certs revoke` + SIGHUP, and is refused from then on.
@Suite("Partner walkthrough end to end", .serialized)
struct PartnerWalkthroughTests {
    func run(_ executable: String, _ arguments: [String], in directory: String) throws -> (Int32, String, String) {
        let process = try WebhookdProcess(
            executable: "/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", directory, executable] + arguments)
        let status = process.waitForExit(timeout: .seconds(60)) ?? -1
        return (status, process.output, process.errorOutput)
    }

    @Test func csrSignedRegisteredDeliversThenRevokedAndRefused() throws {
        let directory = try TestCluster.makeReachableDirectory()
        let database = try TestDatabase.create()
        let webhookd = try TestSupportProcess.webhookdBinary()
        let certs = directory + "/certs"

        #expect(try run(webhookd, ["certs", "init", "--dir", certs], in: directory).0 == 0)
        #expect(try run(webhookd, ["certs", "crl", "--dir", certs], in: directory).0 == 0)
        let request = try run(
            "/usr/bin/openssl",
            [
                "req", "-new", "-sha256", "-newkey", "rsa:2048", "-nodes", "-keyout", "partner.key", "-out",
                "partner.csr", "-subj", "/CN=acme-bank",
            ], in: directory)
        #expect(request.0 == 0, "\(request.2)")
        let signed = try run(webhookd, ["certs", "sign-csr", "partner.csr", "--dir", certs], in: directory)
        #expect(signed.0 == 0, "\(signed.2)")
        let certificate = certs + "/clients/acme-bank.crt"
        let added = try run(
            webhookd, ["clients", "add", "acme-bank", "--endpoint", "payments", "--database-url", database.url],
            in: directory)
        #expect(added.0 == 0, "\(added.2)")

        let server = try WebhookdProcess([
            "serve", "--listen", "127.0.0.1:0", "--cert", certs + "/server.crt", "--key", certs + "/server.key",
            "--client-ca", certs + "/ca.crt", "--crl", certs + "/ca.crl", "--database-url", database.url,
            "--sql-dir", TestDatabase.sqlDirectory, "--admin-listen", "off",
        ])
        let line = try server.waitForLine(containing: "webhookd listening")
        let port = try #require(
            line.range(of: "listen=127.0.0.1:").map { String(line[$0.upperBound...].prefix { $0.isNumber }) })

        func deliver(_ body: String) throws -> (Int32, String, String) {
            try run(
                "/usr/bin/curl",
                [
                    "-sS", "--max-time", "10", "--cacert", certs + "/ca.crt", "--cert", certificate, "--key",
                    "partner.key", "-d", body, "-w", " %{http_code}", "https://localhost:\(port)/webhooks/payments",
                ], in: directory)
        }
        let first = try deliver(#"{"ok":1}"#)
        #expect(first.1.hasSuffix(" 200"), "\(first.1) \(first.2)")
        #expect(first.1.contains("\"duplicate\":false"))

        let revoked = try run(webhookd, ["certs", "revoke", certificate, "--dir", certs], in: directory)
        #expect(revoked.0 == 0, "\(revoked.2)")
        server.signal(SIGHUP)
        _ = try server.waitForLine(containing: "configuration reloaded")

        let second = try deliver(#"{"ok":2}"#)
        #expect(!second.1.contains(" 200"))
        #expect(second.2.contains("certificate revoked"), "\(second.2)")
        _ = try server.waitForLine(containing: "reason=revoked")

        let explained = try run(
            webhookd,
            [
                "certs", "explain", certificate, "--client-ca", certs + "/ca.crt", "--crl", certs + "/ca.crl",
                "--database-url", database.url,
            ], in: directory)
        #expect(explained.0 == 1)
        #expect(explained.1.contains("chain: fail (revoked"))

        let connection = try database.connect()
        defer { connection.close() }
        #expect(
            try connection.query("SELECT count(*) FROM deliveries WHERE client_id = 'acme-bank'").string(0, 0) == "1")
        // Rejection rows are stored by the bookkeeper thread, off the request path: poll for it.
        #expect(
            try ReceiverHarness.eventually {
                try connection.query("SELECT count(*) FROM rejections WHERE reason = 'revoked' AND stage = 'handshake'")
                    .string(0, 0) == "1"
            })
        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: .seconds(15)) == 0)
    }
}
