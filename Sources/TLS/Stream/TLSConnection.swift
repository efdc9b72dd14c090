internal import COpenSSL
import Glibc

/// Owns one `SSL *` over a socket it does not own: the caller closes the fd after this object is gone
/// (teardown order: `shutdown()`, release the connection, then `close(fd)`).
///
/// Not Sendable: create it and drive it on the one thread (event loop) that owns the socket. It keeps its
/// context alive, so a SIGHUP reload never frees an `SSL_CTX` under a live connection.
package final class TLSConnection {
    let raw: OpaquePointer
    /// The server context (nil for client connections).
    package let context: TLSContext?
    /// Keeps a client context alive (nil for server connections).
    private let clientContext: TLSClientContext?

    /// The leaf the peer presented, recorded by the verify callback even when verification fails.
    private var presentedLeaf: Certificate?
    /// Whether the handshake has completed.
    private var handshakeDone = false
    /// After a fatal error OpenSSL forbids SSL_shutdown.
    private var fatalErrorSeen = false
    private var peerCache: PeerCertificate??

    /// Creates a server-side connection in accept state on a (normally non-blocking) socket.
    /// - Throws: `TLSError` (`.handshake`) when OpenSSL cannot allocate or attach the `SSL`.
    package convenience init(context: TLSContext, fileDescriptor: Int32) throws(TLSError) {
        ERR_clear_error()
        guard let raw = SSL_new(context.raw) else {
            throw TLSError.drained(.handshake, "could not create an OpenSSL connection")
        }
        self.init(takingOwnership: raw, context: context, clientContext: nil)
        try attach(fileDescriptor: fileDescriptor)
        SSL_set_accept_state(raw)
    }

    /// Creates a client-side connection in connect state (tests, health checks).
    /// - Parameters:
    ///   - serverName: sent as SNI and checked against the server certificate's SAN (DNS or IP).
    ///   - session: a session from an earlier connection to resume.
    package convenience init(
        clientContext: TLSClientContext, fileDescriptor: Int32, serverName: String?, resuming session: TLSSession? = nil
    ) throws(TLSError) {
        ERR_clear_error()
        guard let raw = SSL_new(clientContext.raw) else {
            throw TLSError.drained(.handshake, "could not create an OpenSSL connection")
        }
        self.init(takingOwnership: raw, context: nil, clientContext: clientContext)
        try attach(fileDescriptor: fileDescriptor)
        if let serverName {
            let isAddress = serverName.contains(":") || serverName.allSatisfy { $0 == "." || $0.isNumber }
            if !isAddress, COpenSSL_SSL_set_tlsext_host_name(raw, serverName) != 1 {
                throw TLSError.drained(.handshake, "could not set SNI \(serverName)")
            }
            guard SSL_set1_host(raw, serverName) == 1 else {
                throw TLSError.drained(.handshake, "could not set the expected server name \(serverName)")
            }
        }
        if let session, SSL_set_session(raw, session.raw) != 1 {
            throw TLSError.drained(.handshake, "could not set the session to resume")
        }
        SSL_set_connect_state(raw)
    }

    private init(takingOwnership raw: OpaquePointer, context: TLSContext?, clientContext: TLSClientContext?) {
        self.raw = raw
        self.context = context
        self.clientContext = clientContext
    }

    deinit {
        SSL_free(raw)
    }

    private func attach(fileDescriptor: Int32) throws(TLSError) {
        guard SSL_set_fd(raw, fileDescriptor) == 1 else {
            throw TLSError.drained(.handshake, "could not attach fd \(fileDescriptor) to an OpenSSL connection")
        }
        // Borrowed back-pointer for the verify callback; `self` owns the SSL, so it outlives every callback.
        guard SSL_set_ex_data(raw, Self.exDataIndex, Unmanaged.passUnretained(self).toOpaque()) == 1 else {
            throw TLSError.drained(.handshake, "could not attach the connection to its SSL")
        }
    }

    // MARK: - Handshake

    /// Advances the handshake without blocking (on a non-blocking socket).
    ///
    /// A server refuses a client that presents no certificate (`no_certificate`) or one that does not verify
    /// (the matching verify reason); OpenSSL sends the matching alert. A resumed session whose client
    /// certificate has passed its notAfter fails with `expired` (SPEC: a resumed session never outlives it).
    package func handshake() -> TLSHandshakeStatus {
        if handshakeDone { return .complete }
        ERR_clear_error()
        let result = SSL_do_handshake(raw)
        if result == 1 {
            handshakeDone = true
            if context != nil, isSessionReused, let peer = peerCertificate, peer.notAfter < currentUnixTime() {
                fatalErrorSeen = true
                return .failed(
                    TLSHandshakeFailure(
                        reason: .expired, detail: "resumed session outlived the client certificate's notAfter",
                        peerCertificate: peer))
            }
            return .complete
        }
        let error = SSL_get_error(raw, result)
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        default:
            fatalErrorSeen = true
            return .failed(classifyHandshakeFailure(sslError: error, savedErrno: errno))
        }
    }

    /// Maps a failed handshake to a SPEC reason: no certificate, a verify error, or `handshake_failed`.
    private func classifyHandshakeFailure(sslError: Int32, savedErrno: Int32) -> TLSHandshakeFailure {
        let errors = TLSError.drainOpenSSLErrors()
        let presented = presentedLeaf.map { PeerCertificate(borrowing: $0.raw, issuerCertificateSHA256: nil) }
        if errors.contains(where: { ERR_GET_REASON($0.code) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE }) {
            return TLSHandshakeFailure(
                reason: .noCertificate, detail: "peer did not return a certificate", peerCertificate: nil,
                openSSLErrors: errors)
        }
        let verifyResult = SSL_get_verify_result(raw)
        if verifyResult != Int(X509_V_OK) {
            let text = X509_verify_cert_error_string(verifyResult).map { String(cString: $0) } ?? "unknown"
            return TLSHandshakeFailure(
                reason: .fromVerifyResult(verifyResult), detail: "\(text) (X509 verify error \(verifyResult))",
                peerCertificate: presented, openSSLErrors: errors)
        }
        let detail: String
        if let first = errors.first {
            detail = first.reason
        } else if sslError == SSL_ERROR_SYSCALL && savedErrno != 0 {
            detail = "socket error: \(String(cString: strerror(savedErrno)))"
        } else {
            detail = "connection closed during the handshake"
        }
        return TLSHandshakeFailure(
            reason: .handshakeFailed, detail: detail, peerCertificate: presented, openSSLErrors: errors)
    }

    // MARK: - Data

    /// Reads decrypted bytes without blocking.
    /// - Returns: `.bytes(n)` with n ≥ 1, `.wantRead`/`.wantWrite`, `.closed` on close_notify or EOF, or
    ///   `.failed` (under TLS 1.3 a client sees the server's certificate refusal here, as an alert).
    package func read(into buffer: UnsafeMutableRawBufferPointer) -> TLSIOStatus {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return .bytes(0) }
        ERR_clear_error()
        var count = 0
        let result = SSL_read_ex(raw, base, buffer.count, &count)
        if result == 1 { return .bytes(count) }
        return ioFailure(SSL_get_error(raw, result), operation: "read")
    }

    /// Writes bytes without blocking; with partial writes enabled a short count is normal.
    package func write(_ bytes: UnsafeRawBufferPointer) -> TLSIOStatus {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return .bytes(0) }
        ERR_clear_error()
        var count = 0
        let result = SSL_write_ex(raw, base, bytes.count, &count)
        if result == 1 { return .bytes(count) }
        return ioFailure(SSL_get_error(raw, result), operation: "write")
    }

    private func ioFailure(_ error: Int32, operation: String) -> TLSIOStatus {
        let savedErrno = errno
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        default:
            fatalErrorSeen = true
            let errors = TLSError.drainOpenSSLErrors()
            if error == SSL_ERROR_SYSCALL && errors.isEmpty && (savedErrno == 0 || savedErrno == ECONNRESET) {
                return .closed
            }
            if errors.count == 1, ERR_GET_REASON(errors[0].code) == SSL_R_UNEXPECTED_EOF_WHILE_READING {
                return .closed
            }
            let message =
                errors.first.map { "TLS \(operation) failed: \($0.reason)" }
                ?? "TLS \(operation) failed: \(String(cString: strerror(savedErrno)))"
            return .failed(TLSError(code: .io, message: message, openSSLErrors: errors))
        }
    }

    /// Sends close_notify, best effort and without blocking; skipped after a fatal error (OpenSSL forbids it).
    package func shutdown() {
        guard handshakeDone, !fatalErrorSeen else { return }
        ERR_clear_error()
        let result = SSL_shutdown(raw)
        if result < 0 {
            let error = SSL_get_error(raw, result)
            // WANT_READ/WANT_WRITE: the peer's close_notify is not awaited; the fd is closed next anyway.
            if error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE {
                fatalErrorSeen = true
            }
            ERR_clear_error()
        }
    }

    // MARK: - Facts

    /// The verified peer leaf after a successful handshake (also on resumed sessions); computed once.
    ///
    /// `issuerCertificateSHA256` comes from the verified chain, which OpenSSL keeps only for full handshakes;
    /// on a resumed session it comes from the session ticket's application data when present.
    package var peerCertificate: PeerCertificate? {
        if let cached = peerCache { return cached }
        guard handshakeDone, let leaf = SSL_get0_peer_certificate(raw) else { return nil }
        let facts = PeerCertificate(borrowing: leaf, issuerCertificateSHA256: verifiedIssuerSHA256())
        peerCache = .some(facts)
        return facts
    }

    /// SHA-256 of the verified chain's second certificate (the leaf's issuer).
    private func verifiedIssuerSHA256() -> String? {
        if let chain = SSL_get0_verified_chain(raw), COpenSSL_sk_X509_num(chain) > 1,
            let issuer = COpenSSL_sk_X509_value(chain, 1)
        {
            return PeerCertificate.sha256Hex(of: issuer)
        }
        return TLSContext.ticketIssuerSHA256(raw)
    }

    /// The negotiated protocol as OpenSSL names it, e.g. "TLSv1.3".
    package var protocolVersion: String {
        String(cString: SSL_get_version(raw))
    }

    /// The negotiated cipher as OpenSSL names it, e.g. "TLS_AES_128_GCM_SHA256".
    package var cipherName: String {
        guard let cipher = SSL_get_current_cipher(raw), let name = SSL_CIPHER_get_name(cipher) else { return "" }
        return String(cString: name)
    }

    /// Whether this handshake resumed an earlier session.
    package var isSessionReused: Bool {
        SSL_session_reused(raw) == 1
    }

    /// The session to resume on a later client connection (for TLS 1.3, available after the first read).
    package var session: TLSSession? {
        SSL_get1_session(raw).map { TLSSession(takingOwnership: $0) }
    }

    // MARK: - Verify callback

    /// The ex_data slot holding the borrowed `TLSConnection` pointer of each `SSL`.
    static let exDataIndex: Int32 = COpenSSL_SSL_get_ex_new_index(0, nil, nil, nil, nil)

    /// Records the presented leaf and never changes OpenSSL's verdict (it returns `preverify_ok`).
    ///
    /// OpenSSL does not keep the client certificate when verification fails, yet SPEC logs the refused
    /// certificate's subject, issuer, serial and fingerprint. STYLE.md §6.13: non-capturing, and it finds its
    /// owner through ex_data; the connection owns the `SSL`, so it outlives every callback.
    static let verifyCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { preverifyOK, storeContext in
        guard let storeContext,
            let ssl = X509_STORE_CTX_get_ex_data(storeContext, SSL_get_ex_data_X509_STORE_CTX_idx()),
            let owner = SSL_get_ex_data(OpaquePointer(ssl), TLSConnection.exDataIndex),
            let leaf = X509_STORE_CTX_get0_cert(storeContext)
        else { return preverifyOK }
        let connection = Unmanaged<TLSConnection>.fromOpaque(owner).takeUnretainedValue()
        if connection.presentedLeaf == nil {
            connection.presentedLeaf = Certificate(borrowing: leaf)
        }
        return preverifyOK
    }
}
