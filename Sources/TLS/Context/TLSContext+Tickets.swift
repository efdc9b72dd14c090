import Bytes
internal import COpenSSL

/// Issuer pinning on resumed sessions.
///
/// OpenSSL keeps only the peer leaf in a session, not the verified chain, so a resumed connection could not
/// tell which CA issued its certificate. When the server issues a session ticket it stores the SHA-256 of the
/// verified issuer in the ticket's application data (encrypted and authenticated with the context's ticket key,
/// so a client cannot alter it); a resumed connection reads it back. Both callbacks capture nothing and need no
/// Swift owner: they only read the `SSL` they are given.
extension TLSContext {
    /// Installs the ticket callbacks on a server context.
    func configureSessionTickets() throws(TLSError) {
        ERR_clear_error()
        guard SSL_CTX_set_session_ticket_cb(raw, Self.generateTicket, Self.decryptTicket, nil) == 1 else {
            throw TLSError.drained(.configuration, "could not install the session ticket callbacks")
        }
    }

    /// The issuer SHA-256 stored in a resumed session's ticket, if any.
    static func ticketIssuerSHA256(_ ssl: OpaquePointer) -> String? {
        guard let session = SSL_get_session(ssl) else { return nil }
        var data: UnsafeMutableRawPointer? = nil
        var length = 0
        guard SSL_SESSION_get0_ticket_appdata(session, &data, &length) == 1, let data, length == 32 else {
            return nil
        }
        return Hex.string(UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: length))
    }

    /// Called when a ticket is issued: records the verified issuer's SHA-256 (returns 1 = carry on).
    static let generateTicket: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32 = { ssl, _ in
        guard let ssl, let session = SSL_get_session(ssl), let chain = SSL_get0_verified_chain(ssl),
            COpenSSL_sk_X509_num(chain) > 1, let issuer = COpenSSL_sk_X509_value(chain, 1)
        else { return 1 }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = digest.withUnsafeMutableBufferPointer { X509_digest(issuer, EVP_sha256(), $0.baseAddress, &length) }
        guard ok == 1, length == 32 else { return 1 }
        // A ticket without the issuer only means issuer-pinned clients need a full handshake.
        _ = digest.withUnsafeBufferPointer { SSL_SESSION_set1_ticket_appdata(session, $0.baseAddress, 32) }
        return 1
    }

    /// Called when a ticket is decrypted: OpenSSL's default decisions (ssl/ssl_sess.c), except that a
    /// TLS 1.3 resumption with a current ticket issues no new one. The client resumes with the ticket it
    /// has (carrying the issuer, which a ticket issued on resumption could not: nothing was verified) until
    /// it expires, and OpenSSL 3.0 encodes, decodes and encrypts the whole session, client certificate
    /// included, for every ticket it issues (half of a resumed handshake's instructions in callgrind).
    static let decryptTicket:
        @convention(c) (
            OpaquePointer?, OpaquePointer?, UnsafePointer<UInt8>?, Int, Int32, UnsafeMutableRawPointer?
        ) -> Int32 = { ssl, _, _, _, status, _ in
            switch status {
            // OpenSSL 3.0 reports every good TLS 1.3 ticket as "renew" (single-use tickets): ours can only
            // be decrypted by the context that issued it (new keys on every reload), so it is kept instead.
            case SSL_TICKET_SUCCESS, SSL_TICKET_SUCCESS_RENEW:
                if let ssl { _ = SSL_set_num_tickets(ssl, 0) }  // returns 1; 0 only for a NULL ssl
                return SSL_TICKET_RETURN_USE
            case SSL_TICKET_EMPTY, SSL_TICKET_NO_DECRYPT: return SSL_TICKET_RETURN_IGNORE_RENEW
            default: return SSL_TICKET_RETURN_ABORT
            }
        }
}
