internal import COpenSSL

extension CertificateRevocationList {
    /// Every revoked serial with its revocation date, in CRL order.
    var revokedEntries: [RevokedEntry] {
        guard let stack = X509_CRL_get_REVOKED(raw) else { return [] }
        var result: [RevokedEntry] = []
        for index in 0..<COpenSSL_sk_X509_REVOKED_num(stack) {
            guard let entry = COpenSSL_sk_X509_REVOKED_value(stack, index) else { continue }
            result.append(
                RevokedEntry(
                    serialHex: PeerCertificate.serialHex(X509_REVOKED_get0_serialNumber(entry)),
                    revokedAt: PeerCertificate.unixTime(X509_REVOKED_get0_revocationDate(entry))))
        }
        return result
    }

    /// The cRLNumber extension's value, `nil` when absent or too large for an `Int`.
    var crlNumber: Int? {
        guard let raw = X509_CRL_get_ext_d2i(self.raw, NID_crl_number, nil, nil) else { return nil }
        let number = raw.assumingMemoryBound(to: ASN1_INTEGER.self)
        defer { ASN1_INTEGER_free(number) }
        var value: Int64 = 0
        guard ASN1_INTEGER_get_int64(&value, number) == 1, value >= 0, let result = Int(exactly: value) else {
            _ = TLSError.drainOpenSSLErrors()  // an out-of-range number is treated as absent
            return nil
        }
        return result
    }
}
