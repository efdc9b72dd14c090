internal import COpenSSL

/// Owns one `X509_REQ *` (a PKCS#10 certificate signing request), freed in `deinit`.
///
/// Confined to the thread that created it.
final class CertificateSigningRequest {
    let raw: OpaquePointer

    /// Takes ownership of `request`.
    init(takingOwnership request: OpaquePointer) {
        self.raw = request
    }

    deinit {
        X509_REQ_free(raw)
    }

    /// Reads a PEM (`-----BEGIN CERTIFICATE REQUEST-----`) or DER CSR file.
    /// - Throws: `TLSError` (`.input`) naming the file when it cannot be read or holds no CSR.
    convenience init(file path: String) throws(TLSError) {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path, what: path)
        } catch {
            throw TLSError(code: .input, message: error.message)
        }
        ERR_clear_error()
        let bio = try MemoryBIO(bytes: bytes)
        var request = PEM_read_bio_X509_REQ(bio.raw, nil, nil, nil)
        if request == nil {
            request = bytes.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                var pointer = buffer.baseAddress
                return d2i_X509_REQ(nil, &pointer, buffer.count)
            }
        }
        guard let request else {
            throw TLSError.drained(.input, "\(path) holds no certificate signing request (PEM or DER)")
        }
        // A PEM miss before a DER hit leaves a "no start line" entry; it means nothing now.
        ERR_clear_error()
        self.init(takingOwnership: request)
    }

    /// The digests SPEC accepts ("SHA-256 or stronger").
    private static let acceptedDigests: Set<Int32> = [
        NID_sha256, NID_sha384, NID_sha512, NID_sha3_256, NID_sha3_384, NID_sha3_512,
    ]

    /// Checks SPEC's signing rules and returns the CSR's one CN, the client id.
    ///
    /// In order: the self-signature verifies; the key is RSA of at least 2048 bits or ECDSA on P-256 or P-384;
    /// the signature digest is SHA-256 or stronger; the subject has exactly one CN, not inside a multi-valued
    /// RDN, that is a usable client id.
    /// - Parameter what: how to name the CSR in a refusal (its path).
    /// - Throws: `TLSError` (`.refused`) with one line naming the rule that failed.
    func checkedClientID(what: String) throws(TLSError) -> String {
        func refuse(_ rule: String) -> TLSError {
            TLSError(code: .refused, message: "\(what): \(rule)", openSSLErrors: TLSError.drainOpenSSLErrors())
        }
        ERR_clear_error()
        guard let publicKey = X509_REQ_get0_pubkey(raw) else {
            throw refuse("its public key cannot be read (the CSR is corrupt or uses an unknown algorithm)")
        }
        guard X509_REQ_verify(raw, publicKey) == 1 else {
            throw refuse("signature does not verify (the CSR was altered or is corrupt)")
        }
        if let problem = Self.keyProblem(publicKey) { throw refuse(problem) }
        if let problem = digestProblem() { throw refuse(problem) }
        return try commonName(refuse)
    }

    /// Why the key is not accepted, or `nil` (SPEC: RSA ≥ 2048 or ECDSA P-256/P-384).
    private static func keyProblem(_ key: OpaquePointer) -> String? {
        let type = EVP_PKEY_get_base_id(key)
        if type == EVP_PKEY_RSA {
            let bits = EVP_PKEY_get_bits(key)
            return bits < 2048 ? "RSA key of \(bits) bits is too small (need at least 2048)" : nil
        }
        if type == EVP_PKEY_EC {
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            let found = EVP_PKEY_get_group_name(key, &name, name.count, &length) == 1
            let nid = found ? OBJ_sn2nid(name) : NID_undef
            if nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 { return nil }
            let text = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let curve = curveName(nid: nid, fallback: found ? text : "an unknown curve")
            return "ECDSA key on \(curve) is not accepted (need P-256 or P-384)"
        }
        let algorithm = OBJ_nid2sn(type).map { String(cString: $0) } ?? "unknown"
        return "\(algorithm) key is not accepted (need RSA of at least 2048 bits or ECDSA P-256/P-384)"
    }

    /// A curve's NIST name when it has one ("P-521"), else OpenSSL's short name.
    private static func curveName(nid: Int32, fallback: String) -> String {
        if let nist = EC_curve_nid2nist(nid) { return String(cString: nist) }
        return OBJ_nid2sn(nid).map { String(cString: $0) } ?? fallback
    }

    /// Why the signature digest is not accepted, or `nil` (SPEC: SHA-256 or stronger).
    private func digestProblem() -> String? {
        let signature = X509_REQ_get_signature_nid(raw)
        var digest: Int32 = NID_undef
        var keyAlgorithm: Int32 = NID_undef
        guard OBJ_find_sigid_algs(signature, &digest, &keyAlgorithm) == 1, digest != NID_undef else {
            let name = OBJ_nid2ln(signature).map { String(cString: $0) } ?? "an unknown algorithm"
            return "signed with \(name); a PKCS#1 v1.5 or ECDSA signature with SHA-256 or stronger is required"
        }
        if Self.acceptedDigests.contains(digest) { return nil }
        let name: String
        switch digest {
        case NID_sha1: name = "SHA-1"
        case NID_md5: name = "MD5"
        case NID_sha224: name = "SHA-224"
        default: name = OBJ_nid2sn(digest).map { String(cString: $0).uppercased() } ?? "an unknown digest"
        }
        return "signed with \(name); SHA-256 or stronger is required"
    }

    /// The one CN of the subject (SPEC: exactly one CN; `CN=a+CN=b` is two).
    private func commonName(_ refuse: (String) -> TLSError) throws(TLSError) -> String {
        guard let subject = X509_REQ_get_subject_name(raw) else {
            throw refuse("subject has no CN; exactly one is required")
        }
        var cnSets: [Int32] = []
        var allSets: [Int32] = []
        for index in 0..<X509_NAME_entry_count(subject) {
            guard let entry = X509_NAME_get_entry(subject, index) else { continue }
            let set = X509_NAME_ENTRY_set(entry)
            allSets.append(set)
            if OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry)) == NID_commonName { cnSets.append(set) }
        }
        guard !cnSets.isEmpty else { throw refuse("subject has no CN; the CN must be the client id") }
        guard cnSets.count == 1 else {
            throw refuse("subject has \(cnSets.count) CNs; exactly one is required")
        }
        if allSets.filter({ $0 == cnSets[0] }).count > 1 {
            throw refuse("the CN is part of a multi-valued RDN (CN=…+…); exactly one plain CN is required")
        }
        let values = PeerCertificate.commonNames(of: subject)
        guard let bytes = values.first, !bytes.contains(0) else {
            throw refuse("the CN contains a NUL byte or cannot be converted to UTF-8")
        }
        let clientID = String(decoding: bytes, as: UTF8.self)
        if let problem = CertsDirectory.clientIDProblem(clientID) {
            throw refuse("CN '\(clientID)' is not a usable client id: it \(problem)")
        }
        return clientID
    }
}
