import Foundation
import TLS
import TestSupport
import Testing

@Suite("TLSContext configuration")
struct ConfigurationTests {
    let pki = TLSTestHelpers.pki

    func configuration(
        cert: String? = nil, key: String? = nil, passphrase: String? = nil, pkcs12: String? = nil,
        clientCA: String? = nil, crls: [String] = []
    ) -> TLSServerConfiguration {
        TLSServerConfiguration(
            certificateChainPath: pkcs12 == nil ? (cert ?? pki.serverCertificate) : cert,
            privateKeyPath: pkcs12 == nil ? (key ?? pki.serverKey) : key, keyPassphrasePath: passphrase,
            pkcs12Path: pkcs12, clientCAPath: clientCA ?? pki.clientCABundle, crlPaths: crls)
    }

    func error(_ configuration: TLSServerConfiguration) -> TLSError? {
        do {
            _ = try TLSContext(configuration: configuration)
            return nil
        } catch {
            return error
        }
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = "\(pki.directory)/\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func validConfigurationExposesFacts() throws {
        let context = try TLSContext(configuration: configuration(crls: [pki.rootCRLFresh]))
        #expect(context.serverCertificate.commonNames == ["localhost"])
        #expect(context.caCertificates.map(\.commonNames) == [["Test Root CA"], ["Test Second CA"]])
        #expect(context.crls.map(\.issuer) == ["CN=Test Root CA,O=webhookd tests"])
        #expect(context.warnings.isEmpty)
    }

    @Test func missingFileNamesTheFlagAndFile() {
        let missing = "\(pki.directory)/nope.pem"
        #expect(
            error(configuration(clientCA: missing))?.description
                == "--client-ca \(missing) cannot be read: No such file or directory")
        #expect(
            error(configuration(cert: missing))?.description
                == "--cert \(missing) cannot be read: No such file or directory")
        #expect(
            error(configuration(crls: [missing]))?.description
                == "--crl \(missing) cannot be read: No such file or directory")
        #expect(error(configuration(clientCA: missing))?.code == .configuration)
    }

    @Test func garbagePEMIsRefused() throws {
        let garbage = try write("garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n")
        #expect(error(configuration(clientCA: garbage))?.description == "--client-ca \(garbage) holds no certificate")
        #expect(error(configuration(cert: garbage))?.description == "--cert \(garbage) holds no certificate")
        #expect(error(configuration(key: garbage))?.description == "--key \(garbage) holds no PEM private key")
        #expect(error(configuration(crls: [garbage]))?.description == "--crl \(garbage) holds no CRL (PEM or DER)")
    }

    @Test func caFileWithOnlyALeafIsRefused() {
        #expect(
            error(configuration(clientCA: pki.leafOnlyBundle))?.description
                == "--client-ca \(pki.leafOnlyBundle) holds no CA certificate")
    }

    @Test func keyNotMatchingCertificateIsRefused() {
        let wrongKey = pki.validClient.keyPath
        #expect(
            error(configuration(key: wrongKey))?.description
                == "--key \(wrongKey) does not match --cert \(pki.serverCertificate)")
    }

    @Test func expiredServerCertificateIsRefused() throws {
        let expired = pki.expiredServerCertificate
        let notAfter = try PeerCertificate.load(path: expired).notAfter
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let date = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(notAfter)))
        #expect(error(configuration(cert: expired))?.description == "--cert \(expired) expired on \(date)")
    }

    @Test func crlSignedByUnknownCAIsRefused() {
        let crl = pki.untrustedCRL
        #expect(
            error(configuration(crls: [crl]))?.description
                == "--crl \(crl) holds a CRL issued by CN=Test Untrusted CA,O=webhookd tests that is not signed by a --client-ca certificate"
        )
    }

    @Test func encryptedKeyWorksWithItsPassphraseFile() throws {
        let context = try TLSContext(
            configuration: configuration(key: pki.serverKeyEncrypted, passphrase: pki.serverKeyPassphraseFile))
        #expect(context.serverCertificate.commonNames == ["localhost"])
        let (server, _) = try TLSTestHelpers.attempt(pki.validClient, context: context)
        #expect(server.failure == nil)
    }

    @Test func encryptedKeyWithWrongOrMissingPassphraseIsRefused() throws {
        let wrong = try write("wrong-passphrase.txt", "not it\n")
        let key = pki.serverKeyEncrypted
        #expect(
            error(configuration(key: key, passphrase: wrong))?.description
                == "--key \(key) cannot be decrypted with --key-passphrase-file \(wrong) (wrong passphrase?)")
        #expect(
            error(configuration(key: key))?.description
                == "--key \(key) is encrypted and no --key-passphrase-file was given")
        #expect(error(configuration(key: key, passphrase: wrong))?.debugDescription.contains("[") == true)
    }

    @Test func pkcs12IdentityWorks() throws {
        let p12 = "\(pki.directory)/server-\(UUID().uuidString).p12"
        _ = try TLSTestHelpers.openssl([
            "pkcs12", "-export", "-in", pki.serverCertificate, "-inkey", pki.serverKey, "-certfile", pki.rootCA,
            "-out", p12, "-passout", "file:\(pki.serverKeyPassphraseFile)",
        ])
        let context = try TLSContext(configuration: configuration(passphrase: pki.serverKeyPassphraseFile, pkcs12: p12))
        #expect(context.serverCertificate == (try PeerCertificate.load(path: pki.serverCertificate)))
        let (server, client) = try TLSTestHelpers.attempt(pki.validClient, context: context)
        #expect(server.failure == nil)
        #expect((try client.get()).status == 200)

        let wrong = try write("wrong-p12-passphrase.txt", "nope\n")
        #expect(
            error(configuration(passphrase: wrong, pkcs12: p12))?.description
                == "--pkcs12 \(p12) cannot be decrypted with --key-passphrase-file \(wrong) (wrong passphrase?)")
        #expect(
            error(configuration(pkcs12: p12))?.description
                == "--pkcs12 \(p12) is encrypted and no --key-passphrase-file was given")
    }

    @Test func bundleWithSeveralCAsAndLeavesTrustsOnlyCAsWithAWarning() throws {
        let mixed = try write(
            "mixed-bundle.pem",
            try String(contentsOfFile: pki.clientCABundle, encoding: .utf8)
                + (try String(contentsOfFile: pki.serverCertificate, encoding: .utf8)))
        let context = try TLSContext(configuration: configuration(clientCA: mixed))
        #expect(context.caCertificates.count == 2)
        #expect(context.warnings.count == 1)
        #expect(context.warnings.first?.contains("not a CA certificate") == true)
    }
}
