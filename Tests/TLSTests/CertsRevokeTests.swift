import Foundation
import TLS
import TestSupport
import Testing

@Suite("webhookd certs revoke and crl")
struct CertsRevokeTests {
    /// A working directory with a dev CA and clients `alice` and `bob`.
    static func workWithClients() throws -> String {
        let work = try CertsCLI.workingDirectory()
        let directory = CertsDirectory("\(work)/certs")
        _ = try DevPKI.initialize(directory: directory)
        let authority = try DevCertificateAuthority(directory: directory)
        _ = try authority.issueClient("alice")
        _ = try authority.issueClient("bob")
        return work
    }

    static func serial(_ path: String, in work: String) throws -> String {
        TLSTestHelpers.value(try CertsCLI.opensslOK(["x509", "-in", path, "-noout", "-serial"], in: work))
    }

    @Test func revokeWritesASignedPEMCRLThatOpenSSLHonours() throws {
        let work = try Self.workWithClients()
        let outcome = try CertsCLI.webhookd(["certs", "revoke", "certs/clients/alice.crt"], in: work)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("kill -HUP <pid>"))
        #expect(outcome.stdout.contains("--crl certs/ca.crl"))
        let crl = try String(contentsOfFile: "\(work)/certs/ca.crl", encoding: .utf8)
        #expect(crl.hasPrefix("-----BEGIN X509 CRL-----"))
        try CertsCLI.opensslOK(["crl", "-in", "certs/ca.crl", "-CAfile", "certs/ca.crt", "-noout"], in: work)
        let text = try CertsCLI.opensslOK(["crl", "-in", "certs/ca.crl", "-noout", "-text"], in: work)
        let alice = try Self.serial("certs/clients/alice.crt", in: work)
        #expect(text.contains("Serial Number: \(alice)"))

        let revoked = try CertsCLI.openssl(
            ["verify", "-crl_check", "-CAfile", "certs/ca.crt", "-CRLfile", "certs/ca.crl", "certs/clients/alice.crt"],
            in: work)
        #expect(revoked.status != 0)
        #expect((revoked.stdout + revoked.stderr).contains("certificate revoked"))
        try CertsCLI.opensslOK(
            ["verify", "-crl_check", "-CAfile", "certs/ca.crt", "-CRLfile", "certs/ca.crl", "certs/clients/bob.crt"],
            in: work)
    }

    @Test func secondRevokeKeepsTheFirstAndIncrementsTheCRLNumber() throws {
        let work = try Self.workWithClients()
        #expect(try CertsCLI.webhookd(["certs", "revoke", "certs/clients/alice.crt"], in: work).status == 0)
        let first = try CertsCLI.opensslOK(["crl", "-in", "certs/ca.crl", "-noout", "-text"], in: work)
        let second = try CertsCLI.webhookd(["certs", "revoke", "certs/clients/bob.crt"], in: work)
        #expect(second.status == 0)
        #expect(second.stdout.contains("a running server started with --crl certs/ca.crl picks it up on: kill -HUP"))
        let text = try CertsCLI.opensslOK(["crl", "-in", "certs/ca.crl", "-noout", "-text"], in: work)
        for name in ["alice", "bob"] {
            #expect(text.contains("Serial Number: \(try Self.serial("certs/clients/\(name).crt", in: work))"))
        }
        #expect(first.contains("CRL Number: \n                1") || first.contains("CRL Number:\n                1"))
        let number = TLSTestHelpers.value(
            try CertsCLI.opensslOK(["crl", "-in", "certs/ca.crl", "-noout", "-crlnumber"], in: work))
        #expect(number == "0x02" || number == "02")
        // alice keeps her original revocation date.
        func dates(_ text: String) -> [String] {
            text.split(separator: "\n").filter { $0.contains("Revocation Date") }.map { String($0) }
        }
        #expect(dates(text).count == 2)
        #expect(dates(text).contains(try #require(dates(first).first)))
        for name in ["alice", "bob"] {
            let outcome = try CertsCLI.openssl(
                [
                    "verify", "-crl_check", "-CAfile", "certs/ca.crt", "-CRLfile", "certs/ca.crl",
                    "certs/clients/\(name).crt",
                ], in: work)
            #expect(outcome.status != 0 && (outcome.stdout + outcome.stderr).contains("certificate revoked"))
        }
        // Revoking again only re-signs.
        let again = try CertsCLI.webhookd(["certs", "revoke", "certs/clients/bob.crt"], in: work)
        #expect(again.status == 0 && again.stdout.contains("already revoked"))
        let after = try CertsCLI.opensslOK(["crl", "-in", "certs/ca.crl", "-noout", "-text"], in: work)
        #expect(dates(after).count == 2)
    }

    @Test func certificatesOfOtherCAsAreRefused() throws {
        let work = try Self.workWithClients()
        let foreign = TLSTestHelpers.pki.validClient.certificatePath
        let outcome = try CertsCLI.webhookd(["certs", "revoke", foreign], in: work)
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("was not issued by the CA in certs"))
        #expect(!FileManager.default.fileExists(atPath: "\(work)/certs/ca.crl"))
        // Same subject as the dev CA, different key: still refused.
        try CertsCLI.opensslOK(
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "o.key",
                "-out", "impostor.crt", "-subj", "/O=webhookd dev/CN=webhookd dev CA",
            ], in: work)
        #expect(try CertsCLI.webhookd(["certs", "revoke", "impostor.crt"], in: work).status == 1)
        #expect(try CertsCLI.webhookd(["certs", "revoke", "certs/ca.crt"], in: work).status == 1)
        #expect(try CertsCLI.webhookd(["certs", "revoke", "missing.crt"], in: work).status == 64)
    }

    @Test func crlRefreshReSignsWithoutAddingAndLibraryReadsEntries() throws {
        let work = try Self.workWithClients()
        let authority = try DevCertificateAuthority(directory: CertsDirectory("\(work)/certs"))
        let revoked = try authority.revoke(certificateFile: "\(work)/certs/clients/alice.crt")
        #expect(!revoked.crlExisted && revoked.crlNumber == 1 && revoked.revokedCount == 1)
        let outcome = try CertsCLI.webhookd(["certs", "crl", "--days", "7"], in: work)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let refreshed = try authority.refreshCRL(days: 7)
        #expect(refreshed.crlNumber == 3 && refreshed.revokedCount == 1 && refreshed.revoked == nil)
        let text = try CertsCLI.opensslOK(["crl", "-in", "certs/ca.crl", "-noout", "-text"], in: work)
        #expect(text.contains("Serial Number: \(revoked.revoked?.serialHex ?? "?")"))
        // The CRL works as the server's --crl.
        _ = try TLSContext(
            configuration: TLSServerConfiguration(
                certificateChainPath: "\(work)/certs/server.crt", privateKeyPath: "\(work)/certs/server.key",
                clientCAPath: "\(work)/certs/ca.crt", crlPaths: ["\(work)/certs/ca.crl"]))
    }
}
