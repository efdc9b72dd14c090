internal import COpenSSL

/// The key algorithms webhookd generates.
package enum KeyType: Sendable, Hashable {
    /// ECDSA on P-256 (the default everywhere).
    case ecdsaP256
    /// ECDSA on P-384.
    case ecdsaP384
    /// RSA with the given modulus size.
    case rsa(bits: Int)
}

/// Owns one `EVP_PKEY *`, freed in `deinit`.
///
/// Confined to the thread that created it. Its PEM output is a secret: never log it.
package final class PrivateKey {
    let raw: OpaquePointer

    /// Takes ownership of one reference to `pkey`.
    init(takingOwnership pkey: OpaquePointer) {
        self.raw = pkey
    }

    deinit {
        EVP_PKEY_free(raw)
    }

    /// Generates a fresh key.
    /// - Throws: `TLSError` (`.key`) when OpenSSL cannot generate it (e.g. an RSA size below 1024 bits).
    package convenience init(generating type: KeyType) throws(TLSError) {
        ERR_clear_error()
        let generated: OpaquePointer?
        switch type {
        case .ecdsaP256: generated = COpenSSL_EVP_EC_gen("P-256")
        case .ecdsaP384: generated = COpenSSL_EVP_EC_gen("P-384")
        case .rsa(let bits):
            generated = bits >= 1024 && bits <= 16384 ? COpenSSL_EVP_RSA_gen(UInt32(bits)) : nil
        }
        guard let generated else { throw TLSError.drained(.key, "could not generate a \(type) key") }
        self.init(takingOwnership: generated)
    }

    /// Reads a PEM private key file, decrypting it with `passphrase` when it is encrypted.
    /// - Throws: `TLSError` (`.key`) naming the file: unreadable, not a key, encrypted without a passphrase, or a
    ///   wrong passphrase.
    package convenience init(pemFile path: String, passphrase: [UInt8]? = nil) throws(TLSError) {
        var bytes = try FileIO.read(path, what: path)
        defer { bytes.wipe() }
        self.init(takingOwnership: try Self.parse(bytes, passphrase: passphrase, what: path, passphraseWhat: nil))
    }

    /// Parses a PEM key. The passphrase goes to OpenSSL as a NUL-terminated copy that is wiped after use.
    static func parse(_ bytes: [UInt8], passphrase: [UInt8]?, what: String, passphraseWhat: String?) throws(TLSError)
        -> OpaquePointer
    {
        let bio = try MemoryBIO(bytes: bytes)
        // With no callback, OpenSSL uses `u` as the passphrase; an empty one (rather than NULL) stops it from
        // prompting on a terminal when the key turns out to be encrypted.
        var secret = (passphrase ?? []) + [0]
        defer { secret.wipe() }
        ERR_clear_error()
        let key = secret.withUnsafeMutableBytes { PEM_read_bio_PrivateKey(bio.raw, nil, nil, $0.baseAddress) }
        if let key { return key }
        let text = String(decoding: bytes, as: UTF8.self)
        let encrypted = text.contains("ENCRYPTED")
        let message: String
        if !text.contains("PRIVATE KEY-----") {
            message = "\(what) holds no PEM private key"
        } else if encrypted && passphrase == nil {
            message = "\(what) is encrypted and no --key-passphrase-file was given"
        } else if encrypted {
            message = "\(what) cannot be decrypted with \(passphraseWhat ?? "the passphrase") (wrong passphrase?)"
        } else {
            message = "\(what) holds a private key OpenSSL cannot read"
        }
        throw TLSError.drained(.key, message)
    }

    /// The unencrypted PKCS#8 PEM encoding (a `BEGIN PRIVATE KEY` block). A secret.
    package func pem() -> String {
        ERR_clear_error()
        guard let bio = try? MemoryBIO(), PEM_write_bio_PrivateKey(bio.raw, raw, nil, nil, 0, nil, nil) == 1 else {
            // Only fails when memory runs out.
            _ = TLSError.drainOpenSSLErrors()
            return ""
        }
        return bio.string
    }

    /// The PKCS#8 PEM encoding encrypted with AES-256-CBC under `passphrase`.
    package func pem(encryptedWith passphrase: [UInt8]) -> String {
        ERR_clear_error()
        guard let bio = try? MemoryBIO() else { return "" }
        var secret = passphrase + [0]
        defer { secret.wipe() }
        let ok = secret.withUnsafeMutableBytes { buffer in
            PEM_write_bio_PKCS8PrivateKey(
                bio.raw, raw, EVP_aes_256_cbc(), buffer.baseAddress?.assumingMemoryBound(to: CChar.self),
                Int32(passphrase.count), nil, nil)
        }
        guard ok == 1 else {
            _ = TLSError.drainOpenSSLErrors()
            return ""
        }
        return bio.string
    }

    /// Whether this key is the private half of `certificate`'s public key.
    package func matches(_ certificate: Certificate) -> Bool {
        ERR_clear_error()
        let result = X509_check_private_key(certificate.raw, raw) == 1
        // A mismatch queues "key values mismatch"; the Bool is the answer.
        ERR_clear_error()
        return result
    }
}

extension [UInt8] {
    /// Overwrites the bytes with zeros (OPENSSL_cleanse, which the compiler cannot optimise away).
    mutating func wipe() {
        withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { OPENSSL_cleanse(base, buffer.count) }
        }
    }
}
