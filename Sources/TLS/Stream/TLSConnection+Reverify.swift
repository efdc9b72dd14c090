internal import COpenSSL

extension TLSConnection {
    /// Verifies this session's client certificate again, against `context`'s CA bundle and CRLs (SPEC
    /// "Reload and open connections": after a reload, the next request on a connection opened before it
    /// re-verifies its certificate). Uses the intermediates the client sent in its handshake; on a resumed
    /// session, where OpenSSL keeps only the leaf, the bundle's own intermediates must complete the chain.
    /// - Returns: nil when the certificate still verifies, else the failure with its SPEC reason.
    package func reverify(against context: TLSContext) -> TLSHandshakeFailure? {
        ERR_clear_error()
        guard let leaf = SSL_get1_peer_certificate(raw) else {
            return TLSHandshakeFailure(
                reason: .noCertificate, detail: "the session has no client certificate", peerCertificate: nil,
                openSSLErrors: [])
        }
        // get1: we own a reference.
        defer { X509_free(leaf) }
        guard let storeContext = X509_STORE_CTX_new() else {
            return TLSHandshakeFailure(
                reason: .handshakeFailed, detail: "could not allocate a verification context",
                peerCertificate: peerCertificate, openSSLErrors: TLSError.drainOpenSSLErrors())
        }
        defer { X509_STORE_CTX_free(storeContext) }
        // The store belongs to the SSL_CTX (get0) and the peer chain to the session (get0): both borrowed.
        let store = SSL_CTX_get_cert_store(context.raw)
        let sentChain = SSL_get_peer_cert_chain(raw)
        guard X509_STORE_CTX_init(storeContext, store, leaf, sentChain) == 1,
            X509_STORE_CTX_set_default(storeContext, "ssl_client") == 1
        else {
            return TLSHandshakeFailure(
                reason: .handshakeFailed, detail: "could not set up the verification", peerCertificate: peerCertificate,
                openSSLErrors: TLSError.drainOpenSSLErrors())
        }
        X509_VERIFY_PARAM_set_auth_level(
            X509_STORE_CTX_get0_param(storeContext), SSL_CTX_get_security_level(context.raw))
        let verified = X509_verify_cert(storeContext)
        // A failed verification queues errors; the verify result is the answer.
        ERR_clear_error()
        if verified == 1 { return nil }
        var result = Int(X509_STORE_CTX_get_error(storeContext))
        if result == Int(X509_V_OK) { result = Int(X509_V_ERR_UNSPECIFIED) }
        let text = X509_verify_cert_error_string(result).map { String(cString: $0) } ?? "unknown"
        return TLSHandshakeFailure(
            reason: RefusalReason.fromVerifyResult(result),
            detail: "\(text) (X509 verify error \(result), after reload)",
            peerCertificate: peerCertificate, openSSLErrors: [])
    }
}
