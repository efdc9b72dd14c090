import Foundation
import TLS
import TestSupport
import Testing

@Suite("webhookd certs sign-csr")
struct CertsSignCSRTests {
    /// A working directory with a dev CA in `certs/`.
    static func workWithCA() throws -> String {
        let work = try CertsCLI.workingDirectory()
        _ = try DevPKI.initialize(directory: CertsDirectory("\(work)/certs"))
        return work
    }

    /// Makes `name` with `openssl req` (key in `name`.key).
    static func makeCSR(_ name: String, in work: String, _ arguments: [String]) throws {
        try CertsCLI.opensslOK(
            ["req", "-new", "-nodes", "-keyout", "\(name).key", "-out", name] + arguments, in: work)
    }

    /// Signs `csr` with the CLI and expects exit 1 with one line containing `rule`.
    static func expectRefusal(_ csr: String, in work: String, _ rule: String) throws {
        let outcome = try CertsCLI.webhookd(["certs", "sign-csr", csr], in: work)
        #expect(outcome.status == 1, "\(csr): \(outcome.stdout)")
        #expect(outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("\(csr): \(rule)"), "\(outcome.stderr)")
        #expect(outcome.stdout.isEmpty)
    }

    @Test func rsa2048SHA256CSRIsSignedWithOnlyTheCNAndOnlyClientAuth() throws {
        let work = try Self.workWithCA()
        try Self.makeCSR(
            "partner.csr", in: work,
            [
                "-sha256", "-newkey", "rsa:2048", "-subj", "/CN=partner-1",
                "-addext", "extendedKeyUsage=serverAuth,clientAuth", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "subjectAltName=DNS:evil.example",
            ])
        let outcome = try CertsCLI.webhookd(["certs", "sign-csr", "partner.csr"], in: work)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.fields["client id"] == "partner-1")
        #expect(outcome.stdout.contains("webhookd clients add partner-1 --endpoint NAME"))
        let path = "certs/clients/partner-1.crt"
        #expect(outcome.fields["sha256"] == (try TLSTestHelpers.fingerprint("\(work)/\(path)")))
        let serial = TLSTestHelpers.value(try CertsCLI.opensslOK(["x509", "-in", path, "-noout", "-serial"], in: work))
        #expect(outcome.fields["serial"] == serial)
        try CertsCLI.opensslOK(["verify", "-CAfile", "certs/ca.crt", "-purpose", "sslclient", path], in: work)
        let text = try CertsCLI.opensslOK(["x509", "-in", path, "-noout", "-text"], in: work)
        #expect(text.contains("TLS Web Client Authentication"))
        #expect(!text.contains("TLS Web Server Authentication"))
        #expect(text.contains("CA:FALSE") && !text.contains("CA:TRUE"))
        #expect(!text.contains("evil.example"))
        let subject = try CertsCLI.opensslOK(
            ["x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253"], in: work)
        #expect(subject.trimmingCharacters(in: .whitespacesAndNewlines) == "subject=CN=partner-1")
        // The key in the certificate is the partner's.
        let certificateKey = try CertsCLI.opensslOK(["x509", "-in", path, "-noout", "-pubkey"], in: work)
        let csrKey = try CertsCLI.opensslOK(["req", "-in", "partner.csr", "-noout", "-pubkey"], in: work)
        #expect(certificateKey == csrKey)
        // Signing again refuses to overwrite.
        let again = try CertsCLI.webhookd(["certs", "sign-csr", "partner.csr"], in: work)
        #expect(again.status == 1 && again.stderr.contains("--force"))
    }

    @Test func subjectKeepsOnlyTheCNWhenTheCSRHasMoreAttributes() throws {
        let work = try Self.workWithCA()
        try Self.makeCSR(
            "partner.csr", in: work, ["-sha384", "-newkey", "rsa:3072", "-subj", "/C=DE/O=Partner GmbH/CN=partner-2"])
        let outcome = try CertsCLI.webhookd(["certs", "sign-csr", "partner.csr", "--out", "out.crt"], in: work)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(work)/out.crt"))
        #expect(!FileManager.default.fileExists(atPath: "\(work)/certs/clients/partner-2.crt"))
        let facts = try PeerCertificate.load(path: "\(work)/out.crt")
        #expect(facts.subject == "CN=partner-2")
    }

    @Test func ecdsaP256AndP384CSRsAreAcceptedIncludingDER() throws {
        let work = try Self.workWithCA()
        try Self.makeCSR(
            "p256.csr", in: work, ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-subj", "/CN=ec-256"])
        try Self.makeCSR(
            "p384.der", in: work,
            ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-subj", "/CN=ec-384", "-outform", "DER"])
        for (csr, cn) in [("p256.csr", "ec-256"), ("p384.der", "ec-384")] {
            let outcome = try CertsCLI.webhookd(["certs", "sign-csr", csr], in: work)
            #expect(outcome.status == 0, "\(csr): \(outcome.stderr)")
            try CertsCLI.opensslOK(
                ["verify", "-CAfile", "certs/ca.crt", "-purpose", "sslclient", "certs/clients/\(cn).crt"], in: work)
        }
    }

    @Test func weakKeysDigestsAndCurvesAreRefusedNamingTheRule() throws {
        let work = try Self.workWithCA()
        try Self.makeCSR("rsa1024.csr", in: work, ["-sha256", "-newkey", "rsa:1024", "-subj", "/CN=x"])
        try Self.expectRefusal("rsa1024.csr", in: work, "RSA key of 1024 bits is too small (need at least 2048)")
        try Self.makeCSR("sha1.csr", in: work, ["-sha1", "-newkey", "rsa:2048", "-subj", "/CN=x"])
        try Self.expectRefusal("sha1.csr", in: work, "signed with SHA-1; SHA-256 or stronger is required")
        try Self.makeCSR(
            "p521.csr", in: work, ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521", "-subj", "/CN=x"])
        try Self.expectRefusal("p521.csr", in: work, "ECDSA key on P-521 is not accepted (need P-256 or P-384)")
        try Self.makeCSR("ed.csr", in: work, ["-newkey", "ed25519", "-subj", "/CN=x"])
        try Self.expectRefusal("ed.csr", in: work, "ED25519 key is not accepted")
        #expect(!FileManager.default.fileExists(atPath: "\(work)/certs/clients/x.crt"))
    }

    @Test func subjectsWithoutExactlyOneCNAreRefused() throws {
        let work = try Self.workWithCA()
        try Self.makeCSR("two.csr", in: work, ["-sha256", "-newkey", "rsa:2048", "-subj", "/CN=a/CN=b"])
        try Self.expectRefusal("two.csr", in: work, "subject has 2 CNs; exactly one is required")
        try Self.makeCSR(
            "multi.csr", in: work, ["-sha256", "-newkey", "rsa:2048", "-multivalue-rdn", "-subj", "/CN=a+CN=b"])
        try Self.expectRefusal("multi.csr", in: work, "subject has 2 CNs; exactly one is required")
        try Self.makeCSR(
            "mixed.csr", in: work, ["-sha256", "-newkey", "rsa:2048", "-multivalue-rdn", "-subj", "/O=x+CN=c"])
        try Self.expectRefusal("mixed.csr", in: work, "the CN is part of a multi-valued RDN")
        try Self.makeCSR("none.csr", in: work, ["-sha256", "-newkey", "rsa:2048", "-subj", "/O=Partner"])
        try Self.expectRefusal("none.csr", in: work, "subject has no CN")
    }

    @Test func alteredSignatureIsRefused() throws {
        let work = try Self.workWithCA()
        try Self.makeCSR(
            "good.der", in: work, ["-sha256", "-newkey", "rsa:2048", "-subj", "/CN=partner", "-outform", "DER"])
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(work)/good.der")))
        // The DER ends with the signature BIT STRING: flipping its last byte keeps the structure valid.
        bytes[bytes.count - 1] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: "\(work)/broken.der"))
        #expect(try CertsCLI.openssl(["req", "-in", "broken.der", "-inform", "DER", "-noout"], in: work).status == 0)
        try Self.expectRefusal(
            "broken.der", in: work, "signature does not verify (the CSR was altered or is corrupt)")
    }

    @Test func unreadableOrNonCSRFilesAreUsageErrors() throws {
        let work = try Self.workWithCA()
        let missing = try CertsCLI.webhookd(["certs", "sign-csr", "missing.csr"], in: work)
        #expect(missing.status == 64 && missing.stderr.contains("missing.csr"))
        let notCSR = try CertsCLI.webhookd(["certs", "sign-csr", "certs/ca.crt"], in: work)
        #expect(notCSR.status == 64)
        #expect(notCSR.stderr.split(separator: "\n").count == 1)
        let noCA = try CertsCLI.workingDirectory()
        try Self.makeCSR("p.csr", in: noCA, ["-sha256", "-newkey", "rsa:2048", "-subj", "/CN=x"])
        #expect(try CertsCLI.webhookd(["certs", "sign-csr", "p.csr"], in: noCA).status == 64)
    }

    @Test func libraryRefusalsCarryTheRefusedCode() throws {
        let work = try Self.workWithCA()
        try Self.makeCSR("sha1.csr", in: work, ["-sha1", "-newkey", "rsa:2048", "-subj", "/CN=x"])
        let authority = try DevCertificateAuthority(directory: CertsDirectory("\(work)/certs"))
        do {
            _ = try authority.signRequest(file: "\(work)/sha1.csr")
            Issue.record("expected a refusal")
        } catch {
            #expect(error.code == .refused)
            #expect(error.description == "\(work)/sha1.csr: signed with SHA-1; SHA-256 or stronger is required")
        }
    }
}
