internal import COpenSSL

/// What one PKCS#12 file holds, parsed once with `PKCS12_parse`: the server (`--pkcs12`) and
/// `webhookd certs inspect` both read PKCS#12 through this.
struct PKCS12Contents {
    /// Whether the MAC verified and the contents decrypted (a wrong passphrase leaves this false).
    let parsed: Bool
    let leaf: Certificate?
    let key: PrivateKey?
    /// Extra certificates (the chain), in file order.
    let extras: [Certificate]

    /// Parses DER PKCS#12 bytes.
    /// - Parameter passphrase: nil tries both no passphrase and the empty one (as `PKCS12_parse` does).
    /// - Returns: nil when the bytes are not PKCS#12 at all (the OpenSSL error queue is left for the caller).
    static func parse(_ bytes: [UInt8], passphrase: [UInt8]?) throws(TLSError) -> PKCS12Contents? {
        let bio = try MemoryBIO(bytes: bytes)
        ERR_clear_error()
        guard let p12 = d2i_PKCS12_bio(bio.raw, nil) else { return nil }
        defer { PKCS12_free(p12) }
        var pkey: OpaquePointer? = nil
        var x509: OpaquePointer? = nil
        var extra: OpaquePointer? = nil
        // A NUL-terminated copy, wiped after use (STYLE.md §6.22).
        var secret = passphrase.map { $0 + [0] }
        defer { secret?.wipe() }
        let parsed: Int32
        if secret != nil {
            parsed =
                secret?.withUnsafeMutableBytes { buffer in
                    PKCS12_parse(p12, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), &pkey, &x509, &extra)
                } ?? 0
        } else {
            parsed = PKCS12_parse(p12, nil, &pkey, &x509, &extra)
        }
        // Take ownership of whatever was returned before deciding anything.
        let key = pkey.map { PrivateKey(takingOwnership: $0) }
        let leaf = x509.map { Certificate(takingOwnership: $0) }
        var extras: [Certificate] = []
        if let extra {
            for index in 0..<COpenSSL_sk_X509_num(extra) {
                if let certificate = COpenSSL_sk_X509_value(extra, index) {
                    extras.append(Certificate(borrowing: certificate))
                }
            }
            COpenSSL_sk_X509_pop_free(extra, X509_free)
        }
        return PKCS12Contents(parsed: parsed == 1, leaf: leaf, key: key, extras: extras)
    }
}
