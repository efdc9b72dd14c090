/// What `webhookd certs issue` or `sign-csr` wrote.
package struct IssuedClientCertificate: Sendable, Hashable {
    /// The client id (the certificate's only CN).
    package let clientID: String
    /// The new certificate's facts (serial, fingerprint, validity).
    package let certificate: CertificateFacts
    /// Where the certificate was written.
    package let certificatePath: String
    /// Where the key was written (`issue` only).
    package let keyPath: String?
    /// Where the certificate-then-key bundle was written (`issue` only).
    package let bundlePath: String?
}

/// The dev CA of a `webhookd certs --dir` directory (`ca.crt` + `ca.key`), loaded to issue client
/// certificates, sign partners' CSRs and keep the CRL.
///
/// Confined to the thread that loaded it (it holds OpenSSL objects).
package struct DevCertificateAuthority {
    /// The directory the CA lives in.
    package let directory: CertsDirectory
    /// The CA certificate.
    let certificate: Certificate
    /// The CA key.
    let key: PrivateKey

    /// Loads `ca.crt` and `ca.key` from `directory` and checks that they belong together.
    /// - Throws: `TLSError` (`.input`) when either is missing ("run webhookd certs init first"), unreadable, or
    ///   the key does not match the certificate.
    /// > Warning: Blocking file I/O.
    package init(directory: CertsDirectory) throws(TLSError) {
        self.directory = directory
        for path in [directory.caCertificate, directory.caKey] where !FileIO.exists(path) {
            throw TLSError(
                code: .input, message: "\(path) not found; run webhookd certs init --dir \(directory.path) first")
        }
        do {
            certificate = try Certificate(file: directory.caCertificate)
            key = try PrivateKey(pemFile: directory.caKey)
        } catch {
            throw TLSError(code: .input, message: error.message, openSSLErrors: error.openSSLErrors)
        }
        guard key.matches(certificate) else {
            throw TLSError(code: .input, message: "\(directory.caKey) does not match \(directory.caCertificate)")
        }
        guard certificate.facts.isCA else {
            throw TLSError(code: .input, message: "\(directory.caCertificate) is not a CA certificate")
        }
    }

    /// The CA's facts (subject, fingerprint, validity).
    package var facts: CertificateFacts { certificate.facts }

    /// Issues a client key and certificate (`webhookd certs issue ID`): CN=ID only, clientAuth as the only EKU,
    /// CA:false, a random 128-bit serial; writes `clients/ID.crt`, `clients/ID.key` (0600) and `clients/ID.pem`
    /// (certificate then key, 0600).
    /// - Throws: `TLSError` — `.input` for an invalid id or day count, `.refused` when one of the three files
    ///   exists and `force` is false (nothing is written then), `.system` when a file cannot be written.
    /// > Warning: Blocking file I/O and key generation.
    package func issueClient(_ clientID: String, days: Int = 365, keyType: KeyType = .ecdsaP256, force: Bool = false)
        throws(TLSError) -> IssuedClientCertificate
    {
        if let problem = CertsDirectory.clientIDProblem(clientID) {
            throw TLSError(code: .input, message: "client id '\(clientID)' \(problem)")
        }
        try CertsDirectory.validateDays(days)
        let files = [
            directory.clientCertificate(clientID), directory.clientKey(clientID), directory.clientBundle(clientID),
        ]
        try CertsDirectory.refuseOverwriting(files, force: force, what: "the certificate of \(clientID)")

        let clientKey = try PrivateKey(generating: keyType)
        let issued = try PKI.issue(
            Self.clientSpec(clientID, days: days), publicKeyOf: clientKey, issuer: certificate, issuerKey: key)
        try FileIO.makeDirectory(directory.clientsDirectory)
        var keyBytes = Array(clientKey.pem().utf8)
        defer { keyBytes.wipe() }
        var bundleBytes = Array(issued.pem.utf8) + keyBytes
        defer { bundleBytes.wipe() }
        try FileIO.writeAtomically(keyBytes, to: files[1], mode: 0o600)
        try FileIO.writeAtomically(Array(issued.pem.utf8), to: files[0], mode: 0o644)
        try FileIO.writeAtomically(bundleBytes, to: files[2], mode: 0o600)
        return IssuedClientCertificate(
            clientID: clientID, certificate: issued.facts, certificatePath: files[0], keyPath: files[1],
            bundlePath: files[2])
    }

    /// The certificate every client gets: subject CN only, clientAuth only, CA:false, valid from an hour ago
    /// (clock skew) for `days` days, random serial.
    static func clientSpec(_ clientID: String, days: Int) -> CertificateSpec {
        let now = currentUnixTime()
        return CertificateSpec(
            subject: [("CN", clientID)], notBefore: now - 3600, notAfter: now + Int64(days) * 86400,
            extendedKeyUsage: [.clientAuth])
    }
}
