internal import COpenSSL

/// Owns one `X509 *` (a reference from `PEM_read_bio_X509`, `d2i_X509`, `X509_new` or an `up_ref`), freed in
/// `deinit`.
///
/// Read-only after creation; still kept non-Sendable so it is created and used on one thread.
package final class Certificate {
    let raw: OpaquePointer

    /// Takes ownership of one reference to `x509`.
    init(takingOwnership x509: OpaquePointer) {
        self.raw = x509
    }

    /// Takes a new reference to a borrowed `x509` (`X509_up_ref`).
    convenience init(borrowing x509: OpaquePointer) {
        X509_up_ref(x509)
        self.init(takingOwnership: x509)
    }

    deinit {
        X509_free(raw)
    }

    /// Reads the first certificate of a PEM or DER file.
    /// - Throws: `TLSError` (`.certificate`) naming the file when it cannot be read or holds no certificate.
    package convenience init(pemFile path: String) throws(TLSError) {
        try self.init(file: path)
    }

    /// Reads the first certificate of a PEM or DER file (PEM tried first).
    convenience init(file path: String, what: String? = nil) throws(TLSError) {
        let label = what ?? path
        let bytes = try FileIO.read(path, what: label)
        let certificates = try Certificate.parseAll(bytes)
        guard let first = certificates.first else {
            throw TLSError.drained(.certificate, "\(label) holds no certificate (PEM or DER)")
        }
        X509_up_ref(first.raw)
        self.init(takingOwnership: first.raw)
    }

    /// Every certificate in PEM text (in order), or the one certificate of a DER encoding.
    static func parseAll(_ bytes: [UInt8]) throws(TLSError) -> [Certificate] {
        ERR_clear_error()
        let bio = try MemoryBIO(bytes: bytes)
        var result: [Certificate] = []
        while let x509 = PEM_read_bio_X509(bio.raw, nil, nil, nil) {
            result.append(Certificate(takingOwnership: x509))
        }
        // Reading until the end leaves a "no start line" entry in the queue; that is how PEM ends.
        ERR_clear_error()
        if result.isEmpty {
            let der = bytes.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                var pointer = buffer.baseAddress
                return d2i_X509(nil, &pointer, buffer.count)
            }
            ERR_clear_error()
            if let der { result.append(Certificate(takingOwnership: der)) }
        }
        return result
    }

    /// Every certificate in a PEM text.
    package static func loadAll(pem: String) throws(TLSError) -> [Certificate] {
        try parseAll(Array(pem.utf8))
    }

    /// The PEM encoding (`-----BEGIN CERTIFICATE-----`).
    package var pem: String {
        guard let bio = try? MemoryBIO(), PEM_write_bio_X509(bio.raw, raw) == 1 else {
            // Encoding a parsed certificate into a memory BIO only fails when memory runs out.
            _ = TLSError.drainOpenSSLErrors()
            return ""
        }
        return bio.string
    }

    /// The DER encoding.
    package var der: [UInt8] {
        let length = i2d_X509(raw, nil)
        guard length > 0 else { return [] }
        var result = [UInt8](repeating: 0, count: Int(length))
        result.withUnsafeMutableBufferPointer { buffer in
            var pointer = buffer.baseAddress
            _ = i2d_X509(raw, &pointer)  // same length as measured above
        }
        return result
    }

    /// Subject, issuer, serial, fingerprint, validity and CNs (no issuer fingerprint: no chain is known).
    package var facts: PeerCertificate {
        PeerCertificate(borrowing: raw, issuerCertificateSHA256: nil)
    }
}
