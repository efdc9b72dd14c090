internal import COpenSSL

extension DevCertificateAuthority {
    /// Signs a partner's CSR after checking it (`webhookd certs sign-csr`).
    ///
    /// The certificate copies only the CSR's CN into its subject, gets clientAuth as its only EKU, CA:false and
    /// a random serial; any extension the CSR asked for is ignored. It is written to `outputPath`, or
    /// `clients/<CN>.crt`.
    /// - Throws: `TLSError` — `.input` when the CSR cannot be read or parsed or `days` is out of range,
    ///   `.refused` when a signing rule fails or the output exists and `force` is false, `.system` on a write
    ///   failure.
    /// > Warning: Blocking file I/O.
    package func signRequest(file path: String, days: Int = 365, outputPath: String? = nil, force: Bool = false)
        throws(TLSError) -> IssuedClientCertificate
    {
        try CertsDirectory.validateDays(days)
        let request = try CertificateSigningRequest(file: path)
        let clientID = try request.checkedClientID(what: path)
        let destination = outputPath ?? directory.clientCertificate(clientID)
        try CertsDirectory.refuseOverwriting([destination], force: force, what: "it")
        ERR_clear_error()
        guard let publicKey = X509_REQ_get0_pubkey(request.raw) else {
            throw TLSError.drained(.input, "\(path): its public key cannot be read")
        }
        let issued = try PKI.issue(
            Self.clientSpec(clientID, days: days), publicKey: publicKey, issuer: certificate, issuerKey: key)
        if outputPath == nil { try FileIO.makeDirectory(directory.clientsDirectory) }
        try FileIO.writeAtomically(Array(issued.pem.utf8), to: destination, mode: 0o644)
        return IssuedClientCertificate(
            clientID: clientID, certificate: issued.facts, certificatePath: destination, keyPath: nil,
            bundlePath: nil)
    }
}
