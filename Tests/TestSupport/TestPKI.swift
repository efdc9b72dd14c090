import Foundation
package import TLS

/// The certificate and key files of one test client.
package struct TestSupportClientFiles: Sendable {
    /// PEM with the leaf followed by any intermediates the client sends.
    package let chainPath: String
    /// PEM with only the leaf.
    package let certificatePath: String
    /// PEM private key.
    package let keyPath: String
}

/// A per-run PKI in a fresh temporary directory: trusted CAs, an untrusted CA, a server certificate, client
/// certificates for every refusal case, and CRLs. Generated once per process (`TestPKI.shared`).
///
/// Everything is files, so the type is a bag of immutable paths and is Sendable.
package final class TestPKI: Sendable {
    /// The directory holding everything (removed by nobody: it lives under the system temp directory).
    package let directory: String
    /// The CN of `validClient` and `secondCAClient`.
    package let clientCN: String

    /// Trusted root CA (certificate, key).
    package let rootCA: String
    package let rootKey: String
    /// Intermediate CA under the root.
    package let intermediateCA: String
    package let intermediateKey: String
    /// A second trusted root CA (issuer pinning: same CN from another trusted CA).
    package let secondCA: String
    package let secondKey: String
    /// A CA that is not trusted.
    package let untrustedCA: String
    package let untrustedKey: String
    /// `--client-ca` bundle: root + second CA.
    package let clientCABundle: String
    /// `--client-ca` bundle: root + intermediate + second CA.
    package let clientCABundleWithIntermediate: String

    /// Server certificate (localhost, 127.0.0.1, serverAuth) issued by the root, and its key.
    package let serverCertificate: String
    package let serverKey: String
    /// The same server key encrypted with `serverKeyPassphrase` (in `serverKeyPassphraseFile`).
    package let serverKeyEncrypted: String
    package let serverKeyPassphraseFile: String
    package let serverKeyPassphrase: String
    /// An expired server certificate (key: `serverKey`).
    package let expiredServerCertificate: String
    /// A CA certificate that is not a CA (a leaf) for the "no CA certificate" case.
    package let leafOnlyBundle: String

    /// Client certificates.
    package let validClient: TestSupportClientFiles
    /// A second identity from the root, CN `globex`, for tests where one client must not affect another.
    package let otherClient: TestSupportClientFiles
    package let expiredClient: TestSupportClientFiles
    package let notYetValidClient: TestSupportClientFiles
    package let untrustedClient: TestSupportClientFiles
    package let serverAuthOnlyClient: TestSupportClientFiles
    package let noCNClient: TestSupportClientFiles
    package let twoCNClient: TestSupportClientFiles
    package let multiValuedCNClient: TestSupportClientFiles
    package let revokedClient: TestSupportClientFiles
    /// Five intermediates between leaf and root (more than the default depth 4); chain file includes them.
    package let tooDeepClient: TestSupportClientFiles
    /// Exactly four intermediates: the most the default depth allows.
    package let deepestAllowedClient: TestSupportClientFiles
    /// Issued by `intermediateCA`; the chain file includes the intermediate.
    package let intermediateClient: TestSupportClientFiles
    /// Issued by `secondCA` with CN `clientCN`.
    package let secondCAClient: TestSupportClientFiles

    /// Root CRL listing `revokedClient` (fresh).
    package let rootCRLRevoking: String
    /// Root CRL listing nothing (fresh).
    package let rootCRLFresh: String
    /// Root CRL past its nextUpdate.
    package let rootCRLStale: String
    /// CRL signed by the untrusted CA.
    package let untrustedCRL: String

    /// The process-wide instance for `clientCN` "acme".
    package static let shared: TestPKI = {
        do {
            return try TestPKI(clientCN: "acme")
        } catch {
            fatalError("TestPKI generation failed: \(error)")
        }
    }()

    /// Generates everything in a fresh temporary directory.
    package init(clientCN: String) throws {
        let dir = try Self.makeTemporaryDirectory()
        directory = dir
        self.clientCN = clientCN
        let now = Int64(Date().timeIntervalSince1970)
        let day: Int64 = 86400

        func write(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
            let path = "\(dir)/\(name)"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
            return path
        }
        func ca(_ name: String, _ cn: String, issuer: Certificate?, issuerKey: PrivateKey?) throws -> (
            Certificate, PrivateKey
        ) {
            let key = try PrivateKey(generating: .ecdsaP256)
            let spec = CertificateSpec(subject: [("O", "webhookd tests"), ("CN", cn)], isCA: true)
            let certificate = try PKI.issue(spec, publicKeyOf: key, issuer: issuer, issuerKey: issuerKey ?? key)
            _ = try write("\(name).crt", certificate.pem)
            _ = try write("\(name).key", key.pem(), mode: 0o600)
            return (certificate, key)
        }
        func client(
            _ name: String, _ spec: CertificateSpec, issuer: Certificate, issuerKey: PrivateKey,
            chain: [Certificate] = []
        ) throws -> (TestSupportClientFiles, Certificate) {
            let key = try PrivateKey(generating: .ecdsaP256)
            let certificate = try PKI.issue(spec, publicKeyOf: key, issuer: issuer, issuerKey: issuerKey)
            let files = TestSupportClientFiles(
                chainPath: try write("\(name)-chain.pem", ([certificate] + chain).map(\.pem).joined()),
                certificatePath: try write("\(name).crt", certificate.pem),
                keyPath: try write("\(name).key", key.pem(), mode: 0o600))
            return (files, certificate)
        }
        func leaf(_ subject: [(String, String)], eku: [CertificateSpec.ExtendedKeyUsage] = [.clientAuth])
            -> CertificateSpec
        {
            CertificateSpec(subject: subject, extendedKeyUsage: eku)
        }

        let (root, rootKey) = try ca("root-ca", "Test Root CA", issuer: nil, issuerKey: nil)
        let (intermediate, intermediateKey) = try ca(
            "intermediate-ca", "Test Intermediate CA", issuer: root, issuerKey: rootKey)
        let (second, secondKey) = try ca("second-ca", "Test Second CA", issuer: nil, issuerKey: nil)
        let (untrusted, untrustedKey) = try ca("untrusted-ca", "Test Untrusted CA", issuer: nil, issuerKey: nil)
        rootCA = "\(dir)/root-ca.crt"
        self.rootKey = "\(dir)/root-ca.key"
        intermediateCA = "\(dir)/intermediate-ca.crt"
        self.intermediateKey = "\(dir)/intermediate-ca.key"
        secondCA = "\(dir)/second-ca.crt"
        self.secondKey = "\(dir)/second-ca.key"
        untrustedCA = "\(dir)/untrusted-ca.crt"
        self.untrustedKey = "\(dir)/untrusted-ca.key"
        clientCABundle = try write("client-ca-bundle.pem", root.pem + second.pem)
        clientCABundleWithIntermediate = try write(
            "client-ca-bundle-intermediate.pem", root.pem + intermediate.pem + second.pem)

        let serverKeyObject = try PrivateKey(generating: .ecdsaP256)
        let serverSpec = CertificateSpec(
            subject: [("CN", "localhost")], extendedKeyUsage: [.serverAuth],
            subjectAltNames: [.dns("localhost"), .ip("127.0.0.1")])
        let server = try PKI.issue(serverSpec, publicKeyOf: serverKeyObject, issuer: root, issuerKey: rootKey)
        serverCertificate = try write("server.crt", server.pem)
        serverKey = try write("server.key", serverKeyObject.pem(), mode: 0o600)
        serverKeyPassphrase = "correct horse battery staple"
        serverKeyEncrypted = try write(
            "server-encrypted.key", serverKeyObject.pem(encryptedWith: Array(serverKeyPassphrase.utf8)), mode: 0o600)
        serverKeyPassphraseFile = try write("server-key-passphrase.txt", serverKeyPassphrase + "\n", mode: 0o600)
        var expiredServerSpec = serverSpec
        expiredServerSpec.notBefore = now - 30 * day
        expiredServerSpec.notAfter = now - day
        expiredServerCertificate = try write(
            "server-expired.crt",
            try PKI.issue(expiredServerSpec, publicKeyOf: serverKeyObject, issuer: root, issuerKey: rootKey).pem)
        leafOnlyBundle = try write("leaf-only.pem", server.pem)

        let subject = [("O", "Example"), ("CN", clientCN)]
        validClient = try client("valid", leaf(subject), issuer: root, issuerKey: rootKey).0
        otherClient = try client("other", leaf([("O", "Example"), ("CN", "globex")]), issuer: root, issuerKey: rootKey)
            .0
        var expiredSpec = leaf(subject)
        expiredSpec.notBefore = now - 30 * day
        expiredSpec.notAfter = now - day
        expiredClient = try client("expired", expiredSpec, issuer: root, issuerKey: rootKey).0
        var futureSpec = leaf(subject)
        futureSpec.notBefore = now + day
        futureSpec.notAfter = now + 30 * day
        notYetValidClient = try client("not-yet-valid", futureSpec, issuer: root, issuerKey: rootKey).0
        untrustedClient = try client("untrusted", leaf(subject), issuer: untrusted, issuerKey: untrustedKey).0
        serverAuthOnlyClient = try client(
            "server-auth-only", leaf(subject, eku: [.serverAuth]), issuer: root, issuerKey: rootKey
        ).0
        noCNClient = try client("no-cn", leaf([("O", "Example")]), issuer: root, issuerKey: rootKey).0
        twoCNClient = try client(
            "two-cn", leaf([("O", "Example"), ("CN", "a"), ("CN", "b")]), issuer: root, issuerKey: rootKey
        ).0
        var multiSpec = leaf([("O", "Example")])
        multiSpec.multiValuedCNs = ["a", "b"]
        multiValuedCNClient = try client("multi-cn", multiSpec, issuer: root, issuerKey: rootKey).0
        let (revokedFiles, revoked) = try client("revoked", leaf(subject), issuer: root, issuerKey: rootKey)
        revokedClient = revokedFiles
        intermediateClient = try client(
            "intermediate-issued", leaf(subject), issuer: intermediate, issuerKey: intermediateKey,
            chain: [intermediate]
        ).0
        secondCAClient = try client("second-ca-client", leaf(subject), issuer: second, issuerKey: secondKey).0

        // Chains of intermediates under the root: level 1 is issued by the root.
        var chain: [Certificate] = []
        var parent = root
        var parentKey = rootKey
        var deepest: TestSupportClientFiles? = nil
        for level in 1...5 {
            let key = try PrivateKey(generating: .ecdsaP256)
            let spec = CertificateSpec(subject: [("CN", "Test Chain CA \(level)")], isCA: true)
            let certificate = try PKI.issue(spec, publicKeyOf: key, issuer: parent, issuerKey: parentKey)
            chain.insert(certificate, at: 0)
            parent = certificate
            parentKey = key
            if level == 4 {
                deepest = try client(
                    "deepest-allowed", leaf(subject), issuer: parent, issuerKey: parentKey, chain: chain
                ).0
            }
        }
        deepestAllowedClient = deepest!
        tooDeepClient = try client("too-deep", leaf(subject), issuer: parent, issuerKey: parentKey, chain: chain).0

        rootCRLRevoking = try write(
            "root-revoking.crl",
            try PKI.makeCRL(
                issuer: root, issuerKey: rootKey, revokedSerials: [revoked.facts.serialHex], lastUpdate: now - 60,
                nextUpdate: now + 7 * day))
        rootCRLFresh = try write(
            "root-fresh.crl",
            try PKI.makeCRL(
                issuer: root, issuerKey: rootKey, revokedSerials: [], lastUpdate: now - 60, nextUpdate: now + 7 * day))
        rootCRLStale = try write(
            "root-stale.crl",
            try PKI.makeCRL(
                issuer: root, issuerKey: rootKey, revokedSerials: [], lastUpdate: now - 10 * day,
                nextUpdate: now - day))
        untrustedCRL = try write(
            "untrusted.crl",
            try PKI.makeCRL(
                issuer: untrusted, issuerKey: untrustedKey, revokedSerials: [], lastUpdate: now - 60,
                nextUpdate: now + 7 * day))
    }

    /// Issues one more client certificate under the root CA (or the second CA) and writes it.
    /// - Returns: the certificate path (leaf only, which is also the chain) and the key path.
    package func makeClient(
        cn: String?, extraSubject: [(String, String)] = [], fromSecondCA: Bool = false,
        extendedKeyUsage: [CertificateSpec.ExtendedKeyUsage] = [.clientAuth]
    ) throws -> (certPath: String, keyPath: String) {
        let issuer = try Certificate(pemFile: fromSecondCA ? secondCA : rootCA)
        let issuerKey = try PrivateKey(pemFile: fromSecondCA ? secondKey : rootKey)
        let key = try PrivateKey(generating: .ecdsaP256)
        var subject = extraSubject
        if let cn { subject.append(("CN", cn)) }
        let spec = CertificateSpec(subject: subject, extendedKeyUsage: extendedKeyUsage)
        let certificate = try PKI.issue(spec, publicKeyOf: key, issuer: issuer, issuerKey: issuerKey)
        let name = "extra-\(UUID().uuidString)"
        let certPath = "\(directory)/\(name).crt"
        let keyPath = "\(directory)/\(name).key"
        try certificate.pem.write(toFile: certPath, atomically: true, encoding: .utf8)
        try key.pem().write(toFile: keyPath, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyPath)
        return (certPath, keyPath)
    }

    /// A new empty directory under the system temp directory.
    package static func makeTemporaryDirectory(prefix: String = "webhookd-tls") throws -> String {
        let path = NSTemporaryDirectory() + "\(prefix)-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
