internal import COpenSSL

/// Reads the certificates of a file given to `webhookd certs inspect` or `explain`: PEM (one or many), DER or
/// PKCS#12.
enum CertificateFile {
    /// Every certificate in `path`, in file order; for PKCS#12 the certificate with the key first, then the
    /// others.
    /// - Parameters:
    ///   - passphrase: the PKCS#12 passphrase; `nil` tries no passphrase and the empty one.
    /// - Throws: `TLSError` (`.input`) with one line: unreadable, no certificate, or
    ///   "`path`: wrong passphrase or corrupt PKCS#12 file".
    static func load(_ path: String, passphrase: [UInt8]?) throws(TLSError) -> [Certificate] {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path, what: path)
        } catch {
            throw TLSError(code: .input, message: error.message)
        }
        let certificates = try Certificate.parseAll(bytes)
        if !certificates.isEmpty { return certificates }
        return try loadPKCS12(bytes, path: path, passphrase: passphrase)
    }

    /// The certificates of a DER PKCS#12 file.
    private static func loadPKCS12(_ bytes: [UInt8], path: String, passphrase: [UInt8]?) throws(TLSError)
        -> [Certificate]
    {
        let bio = try MemoryBIO(bytes: bytes)
        ERR_clear_error()
        guard let p12 = d2i_PKCS12_bio(bio.raw, nil) else {
            throw TLSError.drained(.input, "\(path) holds no certificate (not PEM, DER or PKCS#12)")
        }
        defer { PKCS12_free(p12) }
        var pkey: OpaquePointer? = nil
        var x509: OpaquePointer? = nil
        var extra: OpaquePointer? = nil
        var secret = passphrase.map { $0 + [0] }
        defer { secret?.wipe() }
        let parsed: Int32
        if secret != nil {
            parsed =
                secret?.withUnsafeMutableBytes { buffer in
                    PKCS12_parse(p12, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), &pkey, &x509, &extra)
                } ?? 0
        } else {
            // With NULL, PKCS12_parse tries both no passphrase and the empty one (PKCS12_verify_mac).
            parsed = PKCS12_parse(p12, nil, &pkey, &x509, &extra)
        }
        // Take ownership of whatever was returned before deciding anything.
        if let pkey { EVP_PKEY_free(pkey) }
        var result: [Certificate] = x509.map { [Certificate(takingOwnership: $0)] } ?? []
        if let extra {
            for index in 0..<COpenSSL_sk_X509_num(extra) {
                if let certificate = COpenSSL_sk_X509_value(extra, index) {
                    result.append(Certificate(borrowing: certificate))
                }
            }
            COpenSSL_sk_X509_pop_free(extra, X509_free)
        }
        guard parsed == 1 else {
            throw TLSError.drained(.input, "\(path): wrong passphrase or corrupt PKCS#12 file")
        }
        guard !result.isEmpty else {
            throw TLSError(code: .input, message: "\(path): the PKCS#12 file holds no certificate")
        }
        return result
    }

    /// Reads a passphrase file: its bytes without one trailing newline (as `--key-passphrase-file`).
    static func passphrase(_ path: String, flag: String) throws(TLSError) -> [UInt8] {
        var bytes: [UInt8]
        do {
            bytes = try FileIO.read(path, what: "\(flag) \(path)")
        } catch {
            throw TLSError(code: .input, message: error.message)
        }
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return bytes
    }
}
