internal import COpenSSL

/// One revoked certificate in a CRL.
package struct RevokedEntry: Sendable, Hashable {
    /// The serial in upper-case hex, as `openssl x509 -serial` prints it.
    package var serialHex: String
    /// When it was revoked, unix seconds.
    package var revokedAt: Int64

    /// Creates an entry.
    package init(serialHex: String, revokedAt: Int64) {
        self.serialHex = serialHex
        self.revokedAt = revokedAt
    }
}

/// Certificate and CRL issuance on the OpenSSL C API, for `webhookd certs`, the dev demo and tests.
package enum PKI {
    /// Issues a certificate for `key`'s public key, signed with SHA-256 by `issuerKey`.
    ///
    /// Sets subjectKeyIdentifier, authorityKeyIdentifier, a critical basicConstraints, a critical keyUsage
    /// (keyCertSign + cRLSign for CAs, digitalSignature — plus keyEncipherment for RSA — for leaves), and the
    /// spec's extendedKeyUsage and subjectAltName.
    /// - Parameters:
    ///   - issuer: the issuing CA certificate; `nil` issues a self-signed certificate (then `issuerKey` must be
    ///     `key`).
    /// - Throws: `TLSError` (`.pki`) with the OpenSSL stack when a step fails.
    package static func issue(
        _ spec: CertificateSpec, publicKeyOf key: PrivateKey, issuer: Certificate?, issuerKey: PrivateKey
    ) throws(TLSError) -> Certificate {
        try issue(spec, publicKey: key.raw, issuer: issuer, issuerKey: issuerKey)
    }

    /// Issues a certificate for a borrowed `EVP_PKEY *` that may hold only a public key (a CSR's), as `issue`.
    static func issue(
        _ spec: CertificateSpec, publicKey: OpaquePointer, issuer: Certificate?, issuerKey: PrivateKey
    ) throws(TLSError) -> Certificate {
        ERR_clear_error()
        guard let x509 = X509_new() else { throw TLSError.drained(.pki, "could not allocate a certificate") }
        let certificate = Certificate(takingOwnership: x509)

        guard X509_set_version(x509, 2) == 1 else { throw TLSError.drained(.pki, "could not set version 3") }
        let serial: [UInt8]
        if let given = spec.serial { serial = given } else { serial = try randomSerial() }
        try withASN1Integer(serial) { (integer) throws(TLSError) in
            guard X509_set_serialNumber(x509, integer) == 1 else {
                throw TLSError.drained(.pki, "could not set the serial number")
            }
        }
        guard ASN1_TIME_set(X509_getm_notBefore(x509), time_t(spec.notBefore)) != nil,
            ASN1_TIME_set(X509_getm_notAfter(x509), time_t(spec.notAfter)) != nil
        else { throw TLSError.drained(.pki, "could not set the validity period") }

        guard let name = X509_NAME_new() else { throw TLSError.drained(.pki, "could not allocate a name") }
        defer { X509_NAME_free(name) }
        for (attribute, value) in spec.subject {
            try addNameEntry(name, attribute, value, set: 0)
        }
        for (index, value) in spec.multiValuedCNs.enumerated() {
            // set = -1 appends to the previous RDN, making one multi-valued RDN.
            try addNameEntry(name, "CN", value, set: index == 0 ? 0 : -1)
        }
        guard X509_set_subject_name(x509, name) == 1,
            X509_set_issuer_name(x509, X509_get_subject_name(issuer?.raw ?? x509)) == 1
        else { throw TLSError.drained(.pki, "could not set the subject or issuer name") }
        guard X509_set_pubkey(x509, publicKey) == 1 else {
            throw TLSError.drained(.pki, "could not set the public key")
        }

        var v3 = X509V3_CTX()
        X509V3_set_ctx(&v3, issuer?.raw ?? x509, x509, nil, nil, 0)
        var basic = spec.isCA ? "critical,CA:TRUE" : "critical,CA:FALSE"
        if spec.isCA, let pathLength = spec.pathLength { basic += ",pathlen:\(pathLength)" }
        let isRSA = EVP_PKEY_get_base_id(publicKey) == EVP_PKEY_RSA
        let usage =
            spec.isCA
            ? "critical,keyCertSign,cRLSign,digitalSignature"
            : (isRSA ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature")
        var extensions: [(Int32, String)] = [
            (NID_basic_constraints, basic), (NID_key_usage, usage), (NID_subject_key_identifier, "hash"),
        ]
        // The subject key identifier must exist before a self-signed certificate's authority key identifier
        // can refer to it.
        try addExtensions(extensions, to: x509, context: &v3)
        extensions = [(NID_authority_key_identifier, "keyid:always")]
        if !spec.extendedKeyUsage.isEmpty {
            extensions.append((NID_ext_key_usage, spec.extendedKeyUsage.map(\.rawValue).joined(separator: ",")))
        }
        if !spec.subjectAltNames.isEmpty {
            let names = spec.subjectAltNames.map { entry in
                switch entry {
                case .dns(let name): "DNS:\(name)"
                case .ip(let address): "IP:\(address)"
                }
            }
            extensions.append((NID_subject_alt_name, names.joined(separator: ",")))
        }
        try addExtensions(extensions, to: x509, context: &v3)

        guard X509_sign(x509, issuerKey.raw, EVP_sha256()) > 0 else {
            throw TLSError.drained(.pki, "could not sign the certificate")
        }
        return certificate
    }

    /// Creates a v2 CRL signed with SHA-256 by `issuer`, listing `revokedSerials` (upper- or lower-case hex, as
    /// `openssl x509 -serial` prints them), and returns its PEM encoding.
    /// - Throws: `TLSError` (`.pki`) when a serial is not hex or a step fails.
    package static func makeCRL(
        issuer: Certificate, issuerKey: PrivateKey, revokedSerials: [String], lastUpdate: Int64, nextUpdate: Int64,
        crlNumber: Int = 1
    ) throws(TLSError) -> String {
        try makeCRL(
            issuer: issuer, issuerKey: issuerKey,
            revoked: revokedSerials.map { RevokedEntry(serialHex: $0, revokedAt: lastUpdate) },
            lastUpdate: lastUpdate, nextUpdate: nextUpdate, crlNumber: crlNumber)
    }

    /// Creates a v2 CRL as `makeCRL(issuer:issuerKey:revokedSerials:…)`, with each entry's own revocation date.
    /// - Throws: `TLSError` (`.pki`) when a serial is not hex or a step fails.
    package static func makeCRL(
        issuer: Certificate, issuerKey: PrivateKey, revoked entries: [RevokedEntry], lastUpdate: Int64,
        nextUpdate: Int64, crlNumber: Int
    ) throws(TLSError) -> String {
        ERR_clear_error()
        guard let crl = X509_CRL_new() else { throw TLSError.drained(.pki, "could not allocate a CRL") }
        defer { X509_CRL_free(crl) }
        guard X509_CRL_set_version(crl, 1) == 1,
            X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer.raw)) == 1
        else { throw TLSError.drained(.pki, "could not set the CRL issuer") }
        guard let last = ASN1_TIME_set(nil, time_t(lastUpdate)) else {
            throw TLSError.drained(.pki, "could not encode lastUpdate")
        }
        defer { ASN1_STRING_free(last) }
        guard let next = ASN1_TIME_set(nil, time_t(nextUpdate)) else {
            throw TLSError.drained(.pki, "could not encode nextUpdate")
        }
        defer { ASN1_STRING_free(next) }
        guard X509_CRL_set1_lastUpdate(crl, last) == 1, X509_CRL_set1_nextUpdate(crl, next) == 1 else {
            throw TLSError.drained(.pki, "could not set the CRL validity")
        }
        for entry in entries {
            let serialText = entry.serialHex
            guard let serial = bytes(fromHex: serialText) else {
                throw TLSError(code: .pki, message: "revoked serial \(serialText) is not hex")
            }
            guard let date = ASN1_TIME_set(nil, time_t(entry.revokedAt)) else {
                throw TLSError.drained(.pki, "could not encode a revocation date")
            }
            defer { ASN1_STRING_free(date) }
            guard let revoked = X509_REVOKED_new() else { throw TLSError.drained(.pki, "could not allocate an entry") }
            try withASN1Integer(serial) { (integer) throws(TLSError) in
                guard X509_REVOKED_set_serialNumber(revoked, integer) == 1,
                    X509_REVOKED_set_revocationDate(revoked, date) == 1,
                    X509_CRL_add0_revoked(crl, revoked) == 1  // takes ownership of `revoked`
                else {
                    X509_REVOKED_free(revoked)
                    throw TLSError.drained(.pki, "could not add serial \(serialText) to the CRL")
                }
            }
        }
        guard X509_CRL_sort(crl) == 1 else { throw TLSError.drained(.pki, "could not sort the CRL") }

        var v3 = X509V3_CTX()
        X509V3_set_ctx(&v3, issuer.raw, nil, nil, crl, 0)
        guard let akid = X509V3_EXT_conf_nid(nil, &v3, NID_authority_key_identifier, "keyid:always") else {
            throw TLSError.drained(.pki, "could not build the CRL authority key identifier")
        }
        defer { X509_EXTENSION_free(akid) }
        guard X509_CRL_add_ext(crl, akid, -1) == 1 else { throw TLSError.drained(.pki, "could not add the AKID") }
        guard let number = ASN1_INTEGER_new(), ASN1_INTEGER_set(number, crlNumber) == 1 else {
            throw TLSError.drained(.pki, "could not encode the CRL number")
        }
        defer { ASN1_INTEGER_free(number) }
        guard X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) == 1 else {
            throw TLSError.drained(.pki, "could not add the CRL number")
        }

        guard X509_CRL_sign(crl, issuerKey.raw, EVP_sha256()) > 0 else {
            throw TLSError.drained(.pki, "could not sign the CRL")
        }
        let bio = try MemoryBIO()
        guard PEM_write_bio_X509_CRL(bio.raw, crl) == 1 else {
            throw TLSError.drained(.pki, "could not encode the CRL")
        }
        return bio.string
    }

    // MARK: - Helpers

    /// A random positive 128-bit serial (top bit cleared, never zero).
    static func randomSerial() throws(TLSError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 16)
        ERR_clear_error()
        let ok = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, 16) }
        guard ok == 1 else { throw TLSError.drained(.pki, "could not generate a random serial number") }
        bytes[0] = (bytes[0] & 0x7f) | 0x40
        return bytes
    }

    /// Calls `body` with a temporary ASN1_INTEGER holding the big-endian magnitude `bytes`.
    static func withASN1Integer(
        _ bytes: [UInt8], _ body: (UnsafeMutablePointer<ASN1_INTEGER>) throws(TLSError) -> Void
    ) throws(TLSError) {
        let bn = bytes.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }
        guard let bn else { throw TLSError.drained(.pki, "could not encode a serial number") }
        defer { BN_free(bn) }
        guard let integer = BN_to_ASN1_INTEGER(bn, nil) else {
            throw TLSError.drained(.pki, "could not encode a serial number")
        }
        defer { ASN1_INTEGER_free(integer) }
        try body(integer)
    }

    /// Adds one name entry; `set` follows `X509_NAME_add_entry_by_txt` (0 = new RDN, -1 = join the previous).
    static func addNameEntry(_ name: OpaquePointer, _ attribute: String, _ value: String, set: Int32) throws(TLSError) {
        let bytes = Array(value.utf8)
        let ok = bytes.withUnsafeBufferPointer { buffer in
            X509_NAME_add_entry_by_txt(
                name, attribute, COpenSSL_MBSTRING_UTF8, buffer.baseAddress, Int32(buffer.count), -1, set)
        }
        guard ok == 1 else { throw TLSError.drained(.pki, "could not add \(attribute)=\(value) to a name") }
    }

    /// Builds each extension from its OpenSSL config text and adds it to `x509`.
    static func addExtensions(_ extensions: [(Int32, String)], to x509: OpaquePointer, context: inout X509V3_CTX)
        throws(TLSError)
    {
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw TLSError.drained(.pki, "could not build extension \(value)")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x509, ext, -1) == 1 else { throw TLSError.drained(.pki, "could not add \(value)") }
        }
    }

    /// Parses hex digits (colons allowed) into bytes; `nil` if not hex.
    static func bytes(fromHex text: String) -> [UInt8]? {
        var digits: [UInt8] = []
        for character in text.utf8 where character != UInt8(ascii: ":") {
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(character - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digits.append(character - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digits.append(character - UInt8(ascii: "A") + 10)
            default: return nil
            }
        }
        guard !digits.isEmpty else { return nil }
        if digits.count % 2 == 1 { digits.insert(0, at: 0) }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }
}
