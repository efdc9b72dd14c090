/// Where `DevPKI.ensure` put the dev CA, server and client files.
package struct DevPKIPaths: Sendable, Hashable {
    /// The directory holding everything.
    package let directory: String
    /// `ca.crt`: the dev CA (use it as `--client-ca`, and as curl's `--cacert`).
    package let caCertificate: String
    /// `ca.key` (mode 0600).
    package let caKey: String
    /// `server.crt`: SAN DNS:localhost, IP:127.0.0.1, serverAuth.
    package let serverCertificate: String
    /// `server.key` (mode 0600).
    package let serverKey: String
    /// `clients/<id>.crt`: CN=<id>, clientAuth.
    package let clientCertificate: String
    /// `clients/<id>.key` (mode 0600).
    package let clientKey: String
    /// `clients/<id>.pem`: certificate then key (mode 0600).
    package let clientBundle: String
}

/// The dev PKI behind `webhookd dev` and `webhookd certs init`: a CA, a localhost server certificate and one
/// client certificate, created only where files are absent.
package enum DevPKI {
    /// Validity of generated dev certificates.
    static let caDays: Int64 = 3650
    static let leafDays: Int64 = 825

    /// Creates whatever of the dev PKI is missing under `directory` and returns the paths.
    ///
    /// Pairs are created together: an existing certificate with a missing key (or the reverse) is an error,
    /// not silently replaced. Keys are written with mode 0600, certificates 0644, each atomically.
    /// - Throws: `TLSError` naming the file that cannot be read or written.
    /// > Warning: Blocking file I/O and key generation.
    package static func ensure(directory: String, clientID: String, keyType: KeyType = .ecdsaP256) throws(TLSError)
        -> DevPKIPaths
    {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let paths = DevPKIPaths(
            directory: base, caCertificate: "\(base)/ca.crt", caKey: "\(base)/ca.key",
            serverCertificate: "\(base)/server.crt", serverKey: "\(base)/server.key",
            clientCertificate: "\(base)/clients/\(clientID).crt", clientKey: "\(base)/clients/\(clientID).key",
            clientBundle: "\(base)/clients/\(clientID).pem")
        try FileIO.makeDirectory("\(base)/clients")
        let now = currentUnixTime()

        let (ca, caKey) = try pair(paths.caCertificate, paths.caKey) { () throws(TLSError) in
            try makeCA(keyType: keyType, now: now)
        }
        _ = try pair(paths.serverCertificate, paths.serverKey) { () throws(TLSError) in
            try makeServer(
                keyType: keyType, subjectAltNames: [.dns("localhost"), .ip("127.0.0.1")], days: leafDays, ca: ca,
                caKey: caKey, now: now)
        }
        let (client, clientKey) = try pair(paths.clientCertificate, paths.clientKey) { () throws(TLSError) in
            let key = try PrivateKey(generating: keyType)
            let spec = CertificateSpec(
                subject: [("O", "webhookd dev"), ("CN", clientID)], notBefore: now - 3600,
                notAfter: now + leafDays * 86400, extendedKeyUsage: [.clientAuth])
            return (try PKI.issue(spec, publicKeyOf: key, issuer: ca, issuerKey: caKey), key)
        }
        if !FileIO.exists(paths.clientBundle) {
            var bytes = Array((client.pem + clientKey.pem()).utf8)
            defer { bytes.wipe() }
            try FileIO.writeAtomically(bytes, to: paths.clientBundle, mode: 0o600)
        }
        return paths
    }

    /// Loads a certificate/key pair, or creates and writes both when both are absent.
    private static func pair(
        _ certificatePath: String, _ keyPath: String, create: () throws(TLSError) -> (Certificate, PrivateKey)
    ) throws(TLSError) -> (Certificate, PrivateKey) {
        switch (FileIO.exists(certificatePath), FileIO.exists(keyPath)) {
        case (true, true):
            return (try Certificate(pemFile: certificatePath), try PrivateKey(pemFile: keyPath))
        case (false, false):
            let (certificate, key) = try create()
            var keyBytes = Array(key.pem().utf8)
            defer { keyBytes.wipe() }
            // Key first: a crash between the two writes leaves a key without a certificate, never the reverse.
            try FileIO.writeAtomically(keyBytes, to: keyPath, mode: 0o600)
            try FileIO.writeAtomically(Array(certificate.pem.utf8), to: certificatePath, mode: 0o644)
            return (certificate, key)
        case (true, false):
            throw TLSError(code: .configuration, message: "\(certificatePath) exists but \(keyPath) is missing")
        case (false, true):
            throw TLSError(code: .configuration, message: "\(keyPath) exists but \(certificatePath) is missing")
        }
    }
}
