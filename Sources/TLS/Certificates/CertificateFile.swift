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
        guard let contents = try PKCS12Contents.parse(bytes, passphrase: passphrase) else {
            throw TLSError.drained(.input, "\(path) holds no certificate (not PEM, DER or PKCS#12)")
        }
        let result = (contents.leaf.map { [$0] } ?? []) + contents.extras
        guard contents.parsed else {
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
