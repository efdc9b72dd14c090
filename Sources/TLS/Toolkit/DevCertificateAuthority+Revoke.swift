internal import COpenSSL

/// What `webhookd certs revoke` or `certs crl` wrote.
package struct CRLUpdate: Sendable, Hashable {
    /// The certificate revoked by this call; `nil` for a refresh.
    package let revoked: CertificateFacts?
    /// Whether the certificate was already listed (the CRL is then only re-signed).
    package let wasAlreadyRevoked: Bool
    /// Whether a `ca.crl` existed before this call (if not, a running server was not started with `--crl`).
    package let crlExisted: Bool
    /// The CRL file, PEM.
    package let crlPath: String
    /// The new CRL number.
    package let crlNumber: Int
    /// How many serials the CRL lists.
    package let revokedCount: Int
    /// nextUpdate, unix seconds.
    package let nextUpdate: Int64
}

extension DevCertificateAuthority {
    /// Adds a certificate issued by this CA to `ca.crl` and writes a freshly signed CRL (`webhookd certs revoke`).
    ///
    /// Revoked serials and their dates from the existing `ca.crl` are kept; the CRL number goes up by one;
    /// lastUpdate is now and nextUpdate now + `days`. Revoking a listed certificate again only re-signs.
    /// - Throws: `TLSError` — `.input` when the file cannot be read, `.refused` when the certificate was not
    ///   issued by this CA or the existing `ca.crl` is not this CA's, `.system` on a write failure.
    /// > Warning: Blocking file I/O.
    package func revoke(certificateFile path: String, days: Int = 30) throws(TLSError) -> CRLUpdate {
        // CertificateFile.load reports unreadable or certificate-less files as `.input`.
        guard let target = try CertificateFile.load(path, passphrase: nil).first else {
            throw TLSError(code: .input, message: "\(path) holds no certificate")
        }
        guard target.facts.sha256 != facts.sha256 else {
            throw TLSError(code: .refused, message: "\(path) is the CA certificate itself; a CA cannot revoke itself")
        }
        guard isIssuer(of: target) else {
            let facts = target.facts
            throw TLSError(
                code: .refused,
                message:
                    "\(path) was not issued by the CA in \(directory.path) (\(self.facts.subject)); its issuer is \(facts.issuer)"
            )
        }
        return try writeCRL(adding: target.facts, days: days)
    }

    /// Re-signs `ca.crl` with fresh dates and the next CRL number, adding nothing (`webhookd certs crl`).
    /// - Throws: `TLSError` as `revoke`.
    package func refreshCRL(days: Int = 30) throws(TLSError) -> CRLUpdate {
        try writeCRL(adding: nil, days: days)
    }

    /// Whether this CA signed `certificate`: names and key identifiers match and the signature verifies.
    func isIssuer(of certificate: Certificate) -> Bool {
        ERR_clear_error()
        defer { ERR_clear_error() }  // a failed check queues errors; the Bool is the answer
        guard X509_check_issued(self.certificate.raw, certificate.raw) == X509_V_OK,
            let key = X509_get0_pubkey(self.certificate.raw)
        else { return false }
        return X509_verify(certificate.raw, key) == 1
    }

    private func writeCRL(adding target: CertificateFacts?, days: Int) throws(TLSError) -> CRLUpdate {
        try CertsDirectory.validateDays(days)
        let path = directory.caCRL
        let existed = FileIO.exists(path)
        var entries: [RevokedEntry] = []
        var number = 0
        if existed {
            let lists: [CertificateRevocationList]
            do {
                lists = try CertificateRevocationList.parseAll(try FileIO.read(path, what: path))
            } catch {
                throw TLSError(code: .input, message: error.message)
            }
            guard lists.count == 1, let list = lists.first else {
                throw TLSError(code: .input, message: "\(path) must hold exactly one CRL (it holds \(lists.count))")
            }
            guard list.isSigned(by: certificate) else {
                throw TLSError(
                    code: .refused,
                    message: "\(path) is not signed by \(directory.caCertificate); move it away to start a new CRL")
            }
            entries = list.revokedEntries
            number = list.crlNumber ?? 0
        }
        let now = currentUnixTime()
        var already = false
        if let target {
            already = entries.contains { $0.serialHex == target.serialHex }
            if !already { entries.append(RevokedEntry(serialHex: target.serialHex, revokedAt: now)) }
        }
        let nextUpdate = now + Int64(days) * 86400
        let pem = try PKI.makeCRL(
            issuer: certificate, issuerKey: key, revoked: entries, lastUpdate: now, nextUpdate: nextUpdate,
            crlNumber: number + 1)
        try FileIO.writeAtomically(Array(pem.utf8), to: path, mode: 0o644)
        return CRLUpdate(
            revoked: target, wasAlreadyRevoked: already, crlExisted: existed, crlPath: path, crlNumber: number + 1,
            revokedCount: entries.count, nextUpdate: nextUpdate)
    }
}

extension CRLUpdate {
    /// The lines `revoke` and `crl` print: what changed, and how a running server picks it up.
    package var lines: [String] {
        var result: [String] = []
        if let revoked {
            let verb = wasAlreadyRevoked ? "already revoked" : "revoked"
            result.append("\(verb): \(revoked.subject) (serial \(revoked.serialHex), sha256 \(revoked.sha256))")
        }
        result.append(
            "wrote \(crlPath): CRL number \(crlNumber), \(revokedCount) revoked, next update "
                + utcTimestampString(nextUpdate))
        if crlExisted {
            result.append("a running server started with --crl \(crlPath) picks it up on: kill -HUP <pid>")
        } else {
            result.append(
                "the server must run with --crl \(crlPath) (restart it with that flag); later changes: kill -HUP <pid>")
        }
        result.append("refresh the CRL before its next update with: webhookd certs crl")
        return result
    }
}
