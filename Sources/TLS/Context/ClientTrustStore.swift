internal import COpenSSL

/// The outcome of verifying a client chain offline, as the handshake would.
struct ChainVerification {
    /// The `X509_V_ERR_*` result (`X509_V_OK` = verified).
    let verifyResult: Int
    /// OpenSSL's text for the result, e.g. "unable to get local issuer certificate".
    let verifyResultText: String
    /// SHA-256 of the verified chain's second certificate (the leaf's issuer); `nil` unless verified.
    let issuerCertificateSHA256: String?

    /// The SPEC reason for a failure, `nil` when verified.
    var refusal: RefusalReason? {
        verifyResult == Int(X509_V_OK) ? nil : RefusalReason.fromVerifyResult(verifyResult)
    }
}

/// Owns one `X509_STORE *`: the `--client-ca` certificates and `--crl` lists a server trusts for client
/// certificates, with the CRL flags and verify depth. The single place that decides how client chains are
/// verified: `TLSContext` installs it in its `SSL_CTX`, and `webhookd certs explain` verifies with it offline.
///
/// Read-only after init; confined to the thread that created it until handed to an `SSL_CTX` (which takes its
/// own reference).
final class ClientTrustStore {
    let raw: OpaquePointer
    /// `--verify-depth`: the most intermediates between a client certificate and a trusted CA.
    let verifyDepth: Int

    /// Builds the store: every CA trusted, every CRL loaded and, with any CRL, CRL checking for the whole chain.
    /// - Throws: `TLSError` (`.configuration`) naming the CA or `--crl` file OpenSSL refused.
    init(
        authorities: [Certificate], revocationLists: [(list: CertificateRevocationList, path: String)],
        verifyDepth: Int
    ) throws(TLSError) {
        ERR_clear_error()
        guard let raw = X509_STORE_new() else {
            throw TLSError.drained(.configuration, "could not allocate a certificate store")
        }
        self.raw = raw
        self.verifyDepth = verifyDepth
        // Only the --client-ca file is trusted: never X509_STORE_set_default_paths (STYLE.md §6.44).
        for authority in authorities where X509_STORE_add_cert(raw, authority.raw) != 1 {
            throw TLSError.drained(.configuration, "could not trust CA \(authority.facts.subject)")
        }
        if !revocationLists.isEmpty {
            for (list, path) in revocationLists where X509_STORE_add_crl(raw, list.raw) != 1 {
                throw TLSError.drained(
                    .configuration, "\(TLSContext.Flag.crl) \(path): could not load the CRL of \(list.issuer)")
            }
            // SPEC: with any CRL configured, every CA in the chain must have one (crl_missing otherwise),
            // as nginx does with ssl_crl: CRL_CHECK for the leaf, CRL_CHECK_ALL for intermediates.
            guard X509_STORE_set_flags(raw, UInt(X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL)) == 1 else {
                throw TLSError.drained(.configuration, "could not enable CRL checking")
            }
        }
        guard X509_STORE_set_depth(raw, Int32(verifyDepth)) == 1 else {
            throw TLSError.drained(.configuration, "could not set the verify depth")
        }
    }

    deinit {
        X509_STORE_free(raw)
    }

    /// Verifies `leaf` with `untrustedChain` as the intermediates a client would send, the way libssl does it
    /// on a server: purpose `ssl_client` (`X509_STORE_CTX_set_default`), the context's security level as the
    /// auth level, the store's flags and depth.
    /// - Throws: `TLSError` (`.system`) when OpenSSL cannot set up the verification at all.
    func verify(leaf: Certificate, untrustedChain: [Certificate], securityLevel: Int32) throws(TLSError)
        -> ChainVerification
    {
        ERR_clear_error()
        guard let untrusted = COpenSSL_sk_X509_new_null() else {
            throw TLSError.drained(.system, "could not allocate a certificate stack")
        }
        // The stack only borrows its certificates; freed after the store context that uses it.
        defer { COpenSSL_sk_X509_free(untrusted) }
        for certificate in untrustedChain where COpenSSL_sk_X509_push(untrusted, certificate.raw) <= 0 {
            throw TLSError.drained(.system, "could not build the untrusted chain")
        }
        guard let context = X509_STORE_CTX_new() else {
            throw TLSError.drained(.system, "could not allocate a verification context")
        }
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, raw, leaf.raw, untrusted) == 1,
            X509_STORE_CTX_set_default(context, "ssl_client") == 1
        else { throw TLSError.drained(.system, "could not set up the verification") }
        X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(context), securityLevel)

        let verified = X509_verify_cert(context)
        // A failed verification queues errors; the verify result below is the answer.
        ERR_clear_error()
        var result = verified == 1 ? Int(X509_V_OK) : Int(X509_STORE_CTX_get_error(context))
        // A failure without a recorded error (an internal error) must never read as verified.
        if verified != 1 && result == Int(X509_V_OK) { result = Int(X509_V_ERR_UNSPECIFIED) }
        let text = X509_verify_cert_error_string(result).map { String(cString: $0) } ?? "unknown"
        var issuerSHA256: String? = nil
        if verified == 1, let chain = X509_STORE_CTX_get0_chain(context), COpenSSL_sk_X509_num(chain) > 1,
            let issuer = COpenSSL_sk_X509_value(chain, 1)
        {
            issuerSHA256 = PeerCertificate.sha256Hex(of: issuer)
        }
        return ChainVerification(verifyResult: result, verifyResultText: text, issuerCertificateSHA256: issuerSHA256)
    }

    /// The security level a new server `SSL_CTX` gets (OpenSSL's default or the system configuration's), which
    /// libssl passes to chain verification as the auth level.
    static func serverSecurityLevel() -> Int32 {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            _ = TLSError.drainOpenSSLErrors()  // out of memory: fall back to OpenSSL's compiled-in default
            return 1
        }
        defer { SSL_CTX_free(context) }
        return SSL_CTX_get_security_level(context)
    }
}
