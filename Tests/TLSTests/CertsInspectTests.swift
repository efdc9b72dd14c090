import Foundation
import TLS
import TestSupport
import Testing

@Suite("webhookd certs inspect")
struct CertsInspectTests {
    /// A working directory with a dev CA and client `acme` (certificate, key, bundle).
    static func workWithClient() throws -> String {
        let work = try CertsCLI.workingDirectory()
        let directory = CertsDirectory("\(work)/certs")
        _ = try DevPKI.initialize(directory: directory)
        _ = try DevCertificateAuthority(directory: directory).issueClient("acme")
        return work
    }

    @Test func pemOutputMatchesOpenSSL() throws {
        let work = try Self.workWithClient()
        let outcome = try CertsCLI.webhookd(["certs", "inspect", "certs/clients/acme.crt"], in: work)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let fields = outcome.fields
        let path = "certs/clients/acme.crt"
        #expect(fields["sha256"] == (try TLSTestHelpers.fingerprint("\(work)/\(path)")))
        #expect(fields["sha256"]?.count == 64)
        let serial = TLSTestHelpers.value(try CertsCLI.opensslOK(["x509", "-in", path, "-noout", "-serial"], in: work))
        #expect(fields["serial"] == serial)
        let subject = TLSTestHelpers.value(
            try CertsCLI.opensslOK(["x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253"], in: work))
        #expect(fields["subject"] == subject)
        #expect(fields["issuer"] == "CN=webhookd dev CA,O=webhookd dev")
        #expect(fields["key_type"] == "ECDSA P-256")
        #expect(fields["eku"] == "clientAuth")
        #expect(fields["san"] == "(none)")
        #expect(fields["is_ca"] == "no")
        // 365 days minus the moments since issuance: 365 within the same second, 364 after.
        #expect(["364", "365"].contains(fields["days_remaining"]))
        // ISO 8601 UTC, the same instant openssl prints.
        let notAfter = try #require(fields["not_after"])
        #expect(notAfter.hasSuffix("Z") && notAfter.count == 20)
        let openSSLDate = TLSTestHelpers.value(
            try CertsCLI.opensslOK(["x509", "-in", path, "-noout", "-enddate", "-dateopt", "iso_8601"], in: work))
        #expect(openSSLDate.replacingOccurrences(of: " ", with: "T") == notAfter)
    }

    @Test func serverCertificateShowsSANsAndEveryCertificateOfABundle() throws {
        let work = try Self.workWithClient()
        let server = try CertsCLI.webhookd(["certs", "inspect", "certs/server.crt"], in: work)
        #expect(server.fields["san"] == "DNS:localhost, IP:127.0.0.1")
        #expect(server.fields["eku"] == "serverAuth")
        let bundle =
            try String(contentsOfFile: "\(work)/certs/clients/acme.crt", encoding: .utf8)
            + String(contentsOfFile: "\(work)/certs/ca.crt", encoding: .utf8)
        try bundle.write(toFile: "\(work)/chain.pem", atomically: true, encoding: .utf8)
        let outcome = try CertsCLI.webhookd(["certs", "inspect", "chain.pem"], in: work)
        #expect(outcome.status == 0)
        #expect(outcome.stdout.contains("certificate: 1 of 2") && outcome.stdout.contains("certificate: 2 of 2"))
        #expect(outcome.stdout.contains("is_ca: yes"))
        #expect(outcome.stdout.contains("sha256: \(try TLSTestHelpers.fingerprint("\(work)/certs/ca.crt"))"))
    }

    @Test func derAndPKCS12MatchOpenSSLsFingerprint() throws {
        let work = try Self.workWithClient()
        let expected = try TLSTestHelpers.fingerprint("\(work)/certs/clients/acme.crt")
        try CertsCLI.opensslOK(
            ["x509", "-in", "certs/clients/acme.crt", "-outform", "DER", "-out", "acme.der"], in: work)
        #expect(try CertsCLI.webhookd(["certs", "inspect", "acme.der"], in: work).fields["sha256"] == expected)

        try CertsCLI.opensslOK(
            [
                "pkcs12", "-export", "-in", "certs/clients/acme.crt", "-inkey", "certs/clients/acme.key",
                "-certfile", "certs/ca.crt", "-passout", "pass:s3cret", "-out", "acme.p12",
            ], in: work)
        try "s3cret\n".write(toFile: "\(work)/pass.txt", atomically: true, encoding: .utf8)
        let p12 = try CertsCLI.webhookd(
            ["certs", "inspect", "acme.p12", "--passphrase-file", "pass.txt", "--key", "certs/clients/acme.key"],
            in: work)
        #expect(p12.status == 0, "\(p12.stderr)")
        #expect(p12.fields["sha256"] == expected)
        #expect(p12.fields["key_matches"] == "yes")
        #expect(p12.stdout.contains("certificate: 2 of 2"))

        // No passphrase given: the empty passphrase is tried.
        try CertsCLI.opensslOK(
            [
                "pkcs12", "-export", "-in", "certs/clients/acme.crt", "-inkey", "certs/clients/acme.key",
                "-passout", "pass:", "-out", "empty.p12",
            ], in: work)
        #expect(try CertsCLI.webhookd(["certs", "inspect", "empty.p12"], in: work).fields["sha256"] == expected)
    }

    @Test func wrongPKCS12PassphraseIsOneLineAndExit64() throws {
        let work = try Self.workWithClient()
        try CertsCLI.opensslOK(
            [
                "pkcs12", "-export", "-in", "certs/clients/acme.crt", "-inkey", "certs/clients/acme.key",
                "-passout", "pass:right", "-out", "cert.p12",
            ], in: work)
        try "wrong\n".write(toFile: "\(work)/wrong.txt", atomically: true, encoding: .utf8)
        for arguments in [["--passphrase-file", "wrong.txt"], []] {
            let outcome = try CertsCLI.webhookd(["certs", "inspect", "cert.p12"] + arguments, in: work)
            #expect(outcome.status == 64)
            #expect(outcome.stdout.isEmpty)
            #expect(outcome.stderr == "webhookd: cert.p12: wrong passphrase or corrupt PKCS#12 file\n")
        }
        for (file, contents) in [("garbage.bin", "not a certificate"), ("empty.pem", "")] {
            try contents.write(toFile: "\(work)/\(file)", atomically: true, encoding: .utf8)
            let outcome = try CertsCLI.webhookd(["certs", "inspect", file], in: work)
            #expect(outcome.status == 64, "\(file)")
            #expect(outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
            #expect(!outcome.stderr.contains("error:"), "no OpenSSL stack: \(outcome.stderr)")
        }
        #expect(try CertsCLI.webhookd(["certs", "inspect", "missing.pem"], in: work).status == 64)
    }

    @Test func keyMismatchExitsOneWithKeyMatchesNo() throws {
        let work = try Self.workWithClient()
        let outcome = try CertsCLI.webhookd(
            ["certs", "inspect", "certs/clients/acme.crt", "--key", "certs/server.key"], in: work)
        #expect(outcome.status == 1)
        #expect(outcome.fields["key_matches"] == "no")
        #expect(outcome.stderr.split(separator: "\n").count == 1)
        let matching = try CertsCLI.webhookd(
            ["certs", "inspect", "certs/clients/acme.crt", "--key", "certs/clients/acme.key"], in: work)
        #expect(matching.status == 0)
        #expect(matching.fields["key_matches"] == "yes")
    }

    @Test func expiredCertificateExitsOneAndSaysExpired() throws {
        let work = try CertsCLI.workingDirectory()
        let expired = TLSTestHelpers.pki.expiredClient.certificatePath
        let outcome = try CertsCLI.webhookd(["certs", "inspect", expired], in: work)
        #expect(outcome.status == 1)
        #expect(outcome.fields["days_remaining"]?.hasSuffix("(EXPIRED)") == true)
        #expect(outcome.stderr.contains("expired"))
        let json = try CertsCLI.webhookd(["certs", "inspect", expired, "--json"], in: work)
        #expect(json.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let first = (object?["certificates"] as? [[String: Any]])?.first
        #expect(first?["expired"] as? Bool == true)
        #expect(first?["sha256"] as? String == (try TLSTestHelpers.fingerprint(expired)))
    }

    @Test func certificateCloseToExpiryIsWarnedAbout() throws {
        let work = try CertsCLI.workingDirectory()
        try CertsCLI.opensslOK(
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "soon.key", "-out", "soon.crt", "-days",
                "10", "-subj", "/CN=soon",
            ], in: work)
        let outcome = try CertsCLI.webhookd(["certs", "inspect", "soon.crt"], in: work)
        #expect(outcome.status == 0)
        let days = try #require(outcome.fields["days_remaining"])
        #expect(["9 (WARNING: expires in 9 days)", "10 (WARNING: expires in 10 days)"].contains(days))
        #expect(outcome.fields["key_type"] == "RSA 2048")
    }

    @Test func libraryReportsDetailsAndVerdict() throws {
        let work = try Self.workWithClient()
        let inspection = try CertificateInspection.inspect(
            path: "\(work)/certs/clients/acme.pem", keyPath: "\(work)/certs/clients/acme.key")
        #expect(inspection.certificates.count == 1)
        #expect(inspection.keyMatches == true)
        #expect(inspection.failureMessage == nil)
        let details = try #require(inspection.certificates.first)
        #expect(details.facts.identity == .success("acme"))
        #expect(details.extendedKeyUsages == ["clientAuth"])
        #expect(!details.isExpired)
        do {
            _ = try CertificateInspection.inspect(path: "\(work)/missing")
            Issue.record("expected an error")
        } catch {
            #expect(error.isUsageProblem)
        }
    }
}
