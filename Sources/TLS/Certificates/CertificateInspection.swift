/// The result of `webhookd certs inspect FILE [--key FILE]`: every certificate's details and, with a key,
/// whether it belongs to the first certificate.
package struct CertificateInspection: Sendable, Encodable {
    /// The file as given.
    package let file: String
    /// Every certificate in the file, in order (for PKCS#12: the one with the key first).
    package let certificates: [CertificateDetails]
    /// Whether `--key` is the private key of the first certificate; `nil` without `--key`.
    package let keyMatches: Bool?

    /// Reads `path` (PEM with one or many certificates, DER, or PKCS#12) and, when given, the key.
    /// - Parameters:
    ///   - keyPath: `--key`: a PEM private key to check against the first certificate.
    ///   - passphrasePath: `--passphrase-file`: for a PKCS#12 file and an encrypted `--key`; without it a PKCS#12
    ///     file is tried with no passphrase and the empty one.
    /// - Throws: `TLSError` (`.input`, exit 64) with one line when a file cannot be read or parsed, including a
    ///   wrong PKCS#12 passphrase ("cert.p12: wrong passphrase or corrupt PKCS#12 file").
    /// > Warning: Blocking file I/O.
    package static func inspect(path: String, keyPath: String? = nil, passphrasePath: String? = nil)
        throws(TLSError) -> CertificateInspection
    {
        var passphrase = try passphrasePath.map { (file) throws(TLSError) in
            try CertificateFile.passphrase(file, flag: "--passphrase-file")
        }
        defer { passphrase?.wipe() }
        let certificates = try CertificateFile.load(path, passphrase: passphrase)
        var keyMatches: Bool? = nil
        if let keyPath, let first = certificates.first {
            do {
                keyMatches = try PrivateKey(pemFile: keyPath, passphrase: passphrase).matches(first)
            } catch {
                throw TLSError(code: .input, message: "--key \(error.message)")
            }
        }
        let now = currentUnixTime()
        return CertificateInspection(
            file: path, certificates: certificates.map { CertificateDetails($0, now: now) }, keyMatches: keyMatches)
    }

    /// The one line to report when the command must exit 1, else `nil`.
    ///
    /// SPEC: exit 1 when `--key` does not match or the (first) certificate is expired, else 0.
    package var failureMessage: String? {
        if keyMatches == false { return "the key does not match the certificate in \(file)" }
        if let first = certificates.first, first.isExpired {
            return "\(file): the certificate expired on \(utcTimestampString(first.facts.notAfter))"
        }
        return nil
    }

    /// The text output: one block of `key: value` lines per certificate (numbered when there are several),
    /// then `key_matches: yes|no` with `--key`.
    package var lines: [String] {
        var result: [String] = []
        for (index, certificate) in certificates.enumerated() {
            if index > 0 { result.append("") }
            if certificates.count > 1 { result.append("certificate: \(index + 1) of \(certificates.count)") }
            result += certificate.lines
        }
        if let keyMatches {
            result.append("")
            result.append("key_matches: \(keyMatches ? "yes" : "no")")
        }
        return result
    }

    private enum CodingKeys: String, CodingKey {
        case file, certificates, keyMatches = "key_matches"
    }
}
