/// The outcome of one non-blocking `TLSConnection.handshake()` step.
package enum TLSHandshakeStatus: Sendable {
    /// The handshake finished and (on a server) the client certificate verified.
    case complete
    /// Call again when the socket is readable.
    case wantRead
    /// Call again when the socket is writable.
    case wantWrite
    /// The handshake failed; close the connection (OpenSSL has already queued or sent its alert).
    case failed(TLSHandshakeFailure)
}

/// The outcome of one non-blocking `TLSConnection.read(into:)` or `write(_:)`.
package enum TLSIOStatus: Sendable {
    /// This many bytes were read or written (a write may be partial).
    case bytes(Int)
    /// Retry when the socket is readable.
    case wantRead
    /// Retry when the socket is writable.
    case wantWrite
    /// The peer sent close_notify or closed the TCP connection.
    case closed
    /// A fatal TLS or socket error; close the connection.
    case failed(TLSError)
}

/// Why a handshake failed, as a SPEC reason code plus what a log line needs.
package struct TLSHandshakeFailure: Sendable, Error, CustomStringConvertible {
    /// The SPEC reason code (`no_certificate`, `unknown_issuer`, …, or `handshake_failed`).
    package let reason: RefusalReason
    /// One line for a log, e.g. "certificate has expired (X509 verify error 10)".
    package let detail: String
    /// The certificate the peer presented, when it presented one (also when it failed verification).
    package let peerCertificate: PeerCertificate?
    /// The OpenSSL error queue at the failure, e.g. the alert a client received.
    package let openSSLErrors: [TLSError.OpenSSLError]

    /// Creates a failure.
    package init(
        reason: RefusalReason, detail: String, peerCertificate: PeerCertificate?,
        openSSLErrors: [TLSError.OpenSSLError] = []
    ) {
        self.reason = reason
        self.detail = detail
        self.peerCertificate = peerCertificate
        self.openSSLErrors = openSSLErrors
    }

    /// The reason code and detail.
    package var description: String { "\(reason): \(detail)" }
}
