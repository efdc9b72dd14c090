internal import COpenSSL

/// The facts of one loaded CRL, for metrics (`certificate_expiry_seconds{kind="crl_next_update"}`) and logs.
package struct CRLFacts: Sendable, Hashable {
    /// The CRL issuer's RFC 4514 name.
    package let issuer: String
    /// nextUpdate in unix seconds; `nil` when the CRL has none.
    package let nextUpdate: Int64?
    /// The `--crl` file it came from.
    package let path: String
}

/// Owns one server `SSL_CTX *`, configured once from a `TLSServerConfiguration` and never changed afterwards.
///
/// A SIGHUP reload builds a new `TLSContext`; connections keep the context they were created with
/// (`TLSConnection` holds it strongly), so old contexts die with their last connection. Every new context has
/// fresh session-ticket keys and an empty session cache, so no session survives a CA or CRL change.
///
/// Any thread may create connections from it.
// Sendable because the SSL_CTX is fully configured in init and only read afterwards (SSL_new), which OpenSSL
// documents as thread-safe; all Swift properties are immutable values.
package final class TLSContext: @unchecked Sendable {
    let raw: OpaquePointer

    /// The configuration this context was built from.
    package let configuration: TLSServerConfiguration
    /// The server (leaf) certificate's facts.
    package let serverCertificate: CertificateFacts
    /// The facts of every CA certificate trusted for clients (non-CA certificates in the file are skipped).
    package let caCertificates: [CertificateFacts]
    /// The facts of every loaded CRL.
    package let crls: [CRLFacts]
    /// The earliest nextUpdate of the loaded CRLs (unix seconds): from then on a certificate verified
    /// earlier — on an open connection or in a resumed session — must be verified again.
    package let earliestCRLNextUpdate: Int64?
    /// Loud-but-not-fatal findings: a CRL past its nextUpdate, an expired CA, skipped non-CA certificates.
    package let warnings: [String]

    /// Each CRL's issuer and nextUpdate (unix seconds; CRLs without nextUpdate are left out).
    package var crlNextUpdates: [(issuer: String, nextUpdate: Int64)] {
        crls.compactMap { crl in crl.nextUpdate.map { (issuer: crl.issuer, nextUpdate: $0) } }
    }

    /// TLS 1.2 suites: ECDHE key exchange with AEAD ciphers only (SPEC: forward-secret suites only). TLS 1.3
    /// suites are all forward-secret AEAD and keep OpenSSL's defaults.
    static let tls12CipherList =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    /// The session id context: required by OpenSSL for session resumption with client verification.
    static let sessionIDContext: [UInt8] = Array("webhookd".utf8)

    /// Reads, checks and loads every file of `configuration` into a new server context.
    ///
    /// Fails closed (SPEC "Configuration fails closed"): a missing or unreadable file, a PEM without
    /// certificates, a `--client-ca` without a CA certificate, a key that does not match, an expired server
    /// certificate, an unreadable CRL or one not signed by a configured CA all throw.
    /// - Throws: `TLSError` with code `.configuration` and a one-line description naming the flag and file.
    /// > Warning: Blocking file I/O; call it at start or on reload, not on an event loop's hot path.
    package init(configuration: TLSServerConfiguration) throws(TLSError) {
        let material = try Self.loadMaterial(configuration)
        ERR_clear_error()
        guard let raw = SSL_CTX_new(TLS_server_method()) else {
            throw TLSError.drained(.configuration, "could not create an OpenSSL server context")
        }
        self.raw = raw
        self.configuration = configuration
        self.serverCertificate = material.leaf.facts
        self.caCertificates = material.certificateAuthorities.map(\.facts)
        self.crls = material.revocationLists.map {
            CRLFacts(issuer: $0.list.issuer, nextUpdate: $0.list.nextUpdate, path: $0.path)
        }
        self.earliestCRLNextUpdate = material.revocationLists.compactMap(\.list.nextUpdate).min()
        self.warnings = material.warnings
        try configureProtocol()
        try configureIdentity(material)
        try configureVerification(material)
        try configureSessionTickets()
    }

    deinit {
        SSL_CTX_free(raw)
    }

    // MARK: - Configuration steps

    private func configureProtocol() throws(TLSError) {
        ERR_clear_error()
        guard COpenSSL_SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION) == 1,
            COpenSSL_SSL_CTX_set_max_proto_version(raw, TLS1_3_VERSION) == 1
        else { throw TLSError.drained(.configuration, "could not restrict the context to TLS 1.2 and 1.3") }
        // SSL_CTX_set_options returns the new option mask; it cannot fail.
        _ = SSL_CTX_set_options(
            raw,
            COpenSSL_SSL_OP_NO_COMPRESSION | COpenSSL_SSL_OP_NO_RENEGOTIATION
                | COpenSSL_SSL_OP_CIPHER_SERVER_PREFERENCE)
        guard SSL_CTX_set_cipher_list(raw, Self.tls12CipherList) == 1 else {
            throw TLSError.drained(.configuration, "could not set the TLS 1.2 cipher list")
        }
        guard COpenSSL_SSL_CTX_set1_groups_list(raw, "X25519:P-256:P-384") == 1 else {
            throw TLSError.drained(.configuration, "could not set the key exchange groups")
        }
        // SSL_CTX_set_mode returns the new mode mask; it cannot fail. Partial writes let a non-blocking
        // writer make progress; the moving buffer lets it retry from a different address; released buffers
        // keep an idle connection from pinning OpenSSL's 2 × 16 KiB record buffers (as nginx does).
        _ = COpenSSL_SSL_CTX_set_mode(
            raw,
            Int(
                COpenSSL_SSL_MODE_ENABLE_PARTIAL_WRITE | COpenSSL_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                    | COpenSSL_SSL_MODE_RELEASE_BUFFERS))
        // Read ahead (as nginx does): one read() fills the record buffer instead of one for each record's
        // 5-byte header and one for its body. Safe with our reads: a connection reads until SSL_read wants
        // more bytes from the socket, and resumes (after a commit or a budget pause) by calling it again,
        // never by waiting for readiness, so bytes OpenSSL already holds are never stranded.
        COpenSSL_SSL_CTX_set_read_ahead(raw, 1)
        // Session tickets stay on (SPEC: resumption on); the default server session cache stays on too.
        let ok = Self.sessionIDContext.withUnsafeBufferPointer {
            SSL_CTX_set_session_id_context(raw, $0.baseAddress, UInt32($0.count))
        }
        guard ok == 1 else { throw TLSError.drained(.configuration, "could not set the session id context") }
        // Resumption through tickets only: a server-side session-ID cache would resume TLS 1.2 sessions
        // without the issuer fingerprint the ticket carries (issuer pins would then refuse them). Returns the
        // previous mode; cannot fail.
        _ = COpenSSL_SSL_CTX_set_session_cache_mode(raw, Int(SSL_SESS_CACHE_OFF))
        // One TLS 1.3 ticket per handshake instead of OpenSSL's two: each is the whole session (client
        // certificate included) encoded and encrypted, on the event loop; a client resumes with one.
        guard SSL_CTX_set_num_tickets(raw, 1) == 1 else {
            throw TLSError.drained(.configuration, "could not set the number of session tickets")
        }
    }

    private func configureIdentity(_ material: TLSServerMaterial) throws(TLSError) {
        ERR_clear_error()
        guard let stack = COpenSSL_sk_X509_new_null() else {
            throw TLSError.drained(.configuration, "could not allocate a certificate stack")
        }
        // The stack only borrows: SSL_CTX_use_cert_and_key takes its own references.
        defer { COpenSSL_sk_X509_free(stack) }
        for certificate in material.chain where COpenSSL_sk_X509_push(stack, certificate.raw) <= 0 {
            throw TLSError.drained(.configuration, "could not build the server certificate chain")
        }
        guard SSL_CTX_use_cert_and_key(raw, material.leaf.raw, material.key.raw, stack, 1) == 1 else {
            throw TLSError.drained(.configuration, "OpenSSL refused the server certificate and key")
        }
        guard SSL_CTX_check_private_key(raw) == 1 else {
            throw TLSError.drained(.configuration, "the server key does not match the server certificate")
        }
    }

    private func configureVerification(_ material: TLSServerMaterial) throws(TLSError) {
        // One store-building function for the server and `webhookd certs explain` (ClientTrustStore).
        let store = try ClientTrustStore(
            authorities: material.certificateAuthorities, revocationLists: material.revocationLists,
            verifyDepth: configuration.verifyDepth)
        // SSL_CTX_set1_cert_store takes its own reference and returns nothing; the store is complete here.
        SSL_CTX_set1_cert_store(raw, store.raw)
        ERR_clear_error()
        for authority in material.certificateAuthorities where SSL_CTX_add_client_CA(raw, authority.raw) != 1 {
            throw TLSError.drained(.configuration, "could not list CA \(authority.facts.subject) for clients")
        }
        SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, TLSConnection.verifyCallback)
        SSL_CTX_set_verify_depth(raw, Int32(configuration.verifyDepth))
    }
}
