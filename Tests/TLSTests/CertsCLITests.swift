import Foundation
import TLS
import TestSupport
import Testing

typealias ProcessOutcome = CommandResult

/// Runs the `webhookd` binary and the `openssl` CLI with output captured in files (no pipe can fill up).
enum CertsCLI {
    /// Runs `webhookd` with `arguments` in `directory`.
    static func webhookd(_ arguments: [String], in directory: String) throws -> ProcessOutcome {
        try TestSupportProcess.run(TestSupportProcess.webhookdBinary(), arguments, in: directory)
    }

    /// Runs `/usr/bin/openssl` with `arguments` in `directory`, whatever its exit status.
    static func openssl(_ arguments: [String], in directory: String) throws -> ProcessOutcome {
        try TestSupportProcess.run("/usr/bin/openssl", arguments, in: directory)
    }

    /// Runs `openssl` and throws unless it exits 0.
    @discardableResult
    static func opensslOK(_ arguments: [String], in directory: String) throws -> String {
        let outcome = try openssl(arguments, in: directory)
        guard outcome.status == 0 else {
            throw TestFailure("openssl \(arguments.joined(separator: " ")) failed: \(outcome.stdout)\(outcome.stderr)")
        }
        return outcome.stdout
    }

    /// A fresh empty working directory.
    static func workingDirectory() throws -> String {
        try TestPKI.makeTemporaryDirectory(prefix: "webhookd-certs")
    }

    /// File mode bits of `path`.
    static func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }
}

@Suite("webhookd certs init and issue")
struct CertsInitIssueTests {
    @Test func initWritesAVerifyingServerCertificateWithTheDefaultAndExtraSANs() throws {
        let work = try CertsCLI.workingDirectory()
        let outcome = try CertsCLI.webhookd(
            ["certs", "init", "--san", "hooks.example.test", "--san", "10.1.2.3"], in: work)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("certs/ca.crt"))
        #expect(outcome.stdout.contains("webhookd certs issue"))
        let verify = try CertsCLI.opensslOK(
            ["verify", "-CAfile", "certs/ca.crt", "-purpose", "sslserver", "certs/server.crt"], in: work)
        #expect(verify.contains("certs/server.crt: OK"))
        let text = try CertsCLI.opensslOK(["x509", "-in", "certs/server.crt", "-noout", "-text"], in: work)
        for name in ["DNS:localhost", "IP Address:127.0.0.1", "DNS:hooks.example.test", "IP Address:10.1.2.3"] {
            #expect(text.contains(name), "\(name)")
        }
        #expect(text.contains("TLS Web Server Authentication"))
        let ca = try CertsCLI.opensslOK(["x509", "-in", "certs/ca.crt", "-noout", "-subject", "-text"], in: work)
        #expect(ca.contains("CN = webhookd dev CA"))
        #expect(ca.contains("CA:TRUE"))
        for key in ["certs/ca.key", "certs/server.key"] {
            #expect(try CertsCLI.mode("\(work)/\(key)") == 0o600, "\(key)")
        }
    }

    @Test func initRefusesToOverwriteWithoutForceAndReplacesWithForce() throws {
        let work = try CertsCLI.workingDirectory()
        #expect(try CertsCLI.webhookd(["certs", "init"], in: work).status == 0)
        let before = try CertsCLI.opensslOK(["x509", "-in", "certs/ca.crt", "-noout", "-fingerprint"], in: work)
        let refused = try CertsCLI.webhookd(["certs", "init"], in: work)
        #expect(refused.status == 1)
        let lines = refused.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(refused.stderr.contains("certs/ca.crt") && refused.stderr.contains("--force"))
        #expect(try CertsCLI.opensslOK(["x509", "-in", "certs/ca.crt", "-noout", "-fingerprint"], in: work) == before)

        // One missing file is not enough: any existing one refuses.
        try FileManager.default.removeItem(atPath: "\(work)/certs/ca.crt")
        let partial = try CertsCLI.webhookd(["certs", "init"], in: work)
        #expect(partial.status == 1 && partial.stderr.contains("certs/ca.key"))

        let forced = try CertsCLI.webhookd(["certs", "init", "--force", "--key-type", "rsa-2048"], in: work)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try CertsCLI.opensslOK(["x509", "-in", "certs/ca.crt", "-noout", "-fingerprint"], in: work) != before)
        let key = try CertsCLI.opensslOK(["x509", "-in", "certs/server.crt", "-noout", "-text"], in: work)
        #expect(key.contains("Public-Key: (2048 bit)"))
    }

    @Test func initLibraryRejectsBadSANsAndDays() throws {
        let directory = CertsDirectory(try CertsCLI.workingDirectory() + "/certs")
        #expect(throws: TLSError.self) {
            try DevPKI.initialize(directory: directory, extraSubjectAltNames: ["bad name!"])
        }
        #expect(throws: TLSError.self) { try DevPKI.initialize(directory: directory, serverDays: 0) }
        #expect(!FileManager.default.fileExists(atPath: directory.caCertificate))
        let result = try DevPKI.initialize(directory: directory, extraSubjectAltNames: ["localhost", "::1"])
        #expect(result.serverSubjectAltNames == ["DNS:localhost", "IP:127.0.0.1", "IP:::1"])
        do {
            _ = try DevPKI.initialize(directory: directory)
            Issue.record("expected a refusal")
        } catch {
            #expect(error.code == .refused)
            #expect(!error.isUsageProblem)
        }
    }

    @Test func issueWritesAClientAuthOnlyCertificateThatVerifiesAsSSLClient() throws {
        let work = try CertsCLI.workingDirectory()
        #expect(try CertsCLI.webhookd(["certs", "init"], in: work).status == 0)
        let outcome = try CertsCLI.webhookd(["certs", "issue", "acme-corp", "--days", "30"], in: work)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("webhookd clients add acme-corp --endpoint NAME"))
        let verify = try CertsCLI.opensslOK(
            ["verify", "-CAfile", "certs/ca.crt", "-purpose", "sslclient", "certs/clients/acme-corp.crt"], in: work)
        #expect(verify.contains("OK"))
        let serverPurpose = try CertsCLI.openssl(
            ["verify", "-CAfile", "certs/ca.crt", "-purpose", "sslserver", "certs/clients/acme-corp.crt"], in: work)
        #expect(serverPurpose.status != 0)
        let subject = try CertsCLI.opensslOK(
            ["x509", "-in", "certs/clients/acme-corp.crt", "-noout", "-subject", "-nameopt", "RFC2253"], in: work)
        #expect(subject.trimmingCharacters(in: .whitespacesAndNewlines) == "subject=CN=acme-corp")
        let text = try CertsCLI.opensslOK(["x509", "-in", "certs/clients/acme-corp.crt", "-noout", "-text"], in: work)
        #expect(text.contains("TLS Web Client Authentication"))
        #expect(!text.contains("TLS Web Server Authentication"))
        #expect(text.contains("CA:FALSE"))
        #expect(try CertsCLI.mode("\(work)/certs/clients/acme-corp.key") == 0o600)
        #expect(try CertsCLI.mode("\(work)/certs/clients/acme-corp.pem") == 0o600)

        let bundle = try String(contentsOfFile: "\(work)/certs/clients/acme-corp.pem", encoding: .utf8)
        let certificate = try String(contentsOfFile: "\(work)/certs/clients/acme-corp.crt", encoding: .utf8)
        let key = try String(contentsOfFile: "\(work)/certs/clients/acme-corp.key", encoding: .utf8)
        #expect(bundle == certificate + key)
        // The serial openssl prints is the one we printed, and it is 16 bytes long.
        let serial = TLSTestHelpers.value(
            try CertsCLI.opensslOK(["x509", "-in", "certs/clients/acme-corp.crt", "-noout", "-serial"], in: work))
        #expect(outcome.fields["serial"] == serial)
        #expect(serial.count == 32)
        #expect(outcome.fields["sha256"] == (try TLSTestHelpers.fingerprint("\(work)/certs/clients/acme-corp.crt")))
    }

    @Test func issueRefusesOverwriteBadIdsAndAMissingCA() throws {
        let work = try CertsCLI.workingDirectory()
        let noCA = try CertsCLI.webhookd(["certs", "issue", "acme"], in: work)
        #expect(noCA.status == 64)
        #expect(noCA.stderr.contains("run webhookd certs init"))
        #expect(try CertsCLI.webhookd(["certs", "init"], in: work).status == 0)
        #expect(try CertsCLI.webhookd(["certs", "issue", "acme"], in: work).status == 0)
        let again = try CertsCLI.webhookd(["certs", "issue", "acme"], in: work)
        #expect(again.status == 1)
        #expect(again.stderr.contains("certs/clients/acme.crt") && again.stderr.contains("--force"))
        #expect(try CertsCLI.webhookd(["certs", "issue", "acme", "--force"], in: work).status == 0)
        for bad in ["a/b", "", "tab\there", String(repeating: "x", count: 256), ".."] {
            let outcome = try CertsCLI.webhookd(["certs", "issue", bad], in: work)
            #expect(outcome.status == 64, "\(bad)")
        }
        // Non-ASCII UTF-8 is a valid client id.
        #expect(try CertsCLI.webhookd(["certs", "issue", "zürich-bank"], in: work).status == 0)
    }

    @Test func issueLibraryUsesTheDevCAAndRSAKeys() throws {
        let directory = CertsDirectory(try CertsCLI.workingDirectory() + "/certs")
        _ = try DevPKI.initialize(directory: directory)
        let authority = try DevCertificateAuthority(directory: directory)
        let issued = try authority.issueClient("rsa-client", days: 10, keyType: .rsa(bits: 2048))
        let facts = try PeerCertificate.load(path: issued.certificatePath)
        #expect(facts.identity == .success("rsa-client"))
        #expect(facts.issuer == authority.facts.subject)
        #expect(facts.notAfter - facts.notBefore == 10 * 86400 + 3600)
        #expect(!facts.isCA)
        let other = try authority.issueClient("rsa-client-2")
        #expect(other.certificate.serialHex != issued.certificate.serialHex)
    }
}
