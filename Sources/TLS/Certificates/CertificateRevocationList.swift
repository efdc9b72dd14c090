internal import COpenSSL

/// Owns one `X509_CRL *`, freed in `deinit`. Confined to the thread that created it.
final class CertificateRevocationList {
    let raw: OpaquePointer

    /// Takes ownership of one reference to `crl`.
    init(takingOwnership crl: OpaquePointer) {
        self.raw = crl
    }

    deinit {
        X509_CRL_free(raw)
    }

    /// Every CRL in PEM text, or the one CRL of a DER encoding.
    static func parseAll(_ bytes: [UInt8]) throws(TLSError) -> [CertificateRevocationList] {
        ERR_clear_error()
        let bio = try MemoryBIO(bytes: bytes)
        var result: [CertificateRevocationList] = []
        while let crl = PEM_read_bio_X509_CRL(bio.raw, nil, nil, nil) {
            result.append(CertificateRevocationList(takingOwnership: crl))
        }
        // The end of the PEM text queues a "no start line" entry; that is expected.
        ERR_clear_error()
        if result.isEmpty {
            let der = bytes.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                var pointer = buffer.baseAddress
                return d2i_X509_CRL(nil, &pointer, buffer.count)
            }
            ERR_clear_error()
            if let der { result.append(CertificateRevocationList(takingOwnership: der)) }
        }
        return result
    }

    /// The issuer name in RFC 4514 form.
    var issuer: String {
        PeerCertificate.rfc4514(X509_CRL_get_issuer(raw))
    }

    /// nextUpdate in unix seconds, `nil` when the CRL has none.
    var nextUpdate: Int64? {
        guard let time = X509_CRL_get0_nextUpdate(raw) else { return nil }
        return PeerCertificate.unixTime(time)
    }

    /// Whether `certificate` is this CRL's issuer: same name and a valid signature by its key.
    func isSigned(by certificate: Certificate) -> Bool {
        guard X509_NAME_cmp(X509_CRL_get_issuer(raw), X509_get_subject_name(certificate.raw)) == 0,
            let key = X509_get0_pubkey(certificate.raw)
        else { return false }
        ERR_clear_error()
        let valid = X509_CRL_verify(raw, key) == 1
        // A bad signature queues an error; the Bool is the answer.
        ERR_clear_error()
        return valid
    }
}
