internal import COpenSSL
import Glibc

extension TLSContext {
    /// Runs a handshake against this context over a local socket pair with a client that presents no
    /// certificate, and checks that it is refused with `no_certificate` (issue: "after each successful load,
    /// a built-in self-test handshake … must be refused, or the new configuration is not used").
    /// - Throws: `TLSError` (`.configuration`) when the anonymous client was let in or the handshake could not
    ///   be run at all.
    package func selfTestRefusesAnonymousClient() throws(TLSError) {
        var descriptors: [Int32] = [-1, -1]
        let paired = descriptors.withUnsafeMutableBufferPointer {
            socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, $0.baseAddress)
        }
        guard paired == 0 else {
            throw TLSError(code: .configuration, message: "self-test: cannot create a socket pair", openSSLErrors: [])
        }
        defer { descriptors.forEach { _ = close($0) } }

        let server = try TLSConnection(context: self, fileDescriptor: descriptors[0])
        ERR_clear_error()
        // The probe client checks nothing about the server: it only exists to be refused.
        guard let clientContext = SSL_CTX_new(TLS_client_method()) else {
            throw TLSError.drained(.configuration, "self-test: cannot create a client context")
        }
        defer { SSL_CTX_free(clientContext) }
        SSL_CTX_set_verify(clientContext, SSL_VERIFY_NONE, nil)
        guard let client = SSL_new(clientContext) else {
            throw TLSError.drained(.configuration, "self-test: cannot create a client")
        }
        defer { SSL_free(client) }
        guard SSL_set_fd(client, descriptors[1]) == 1 else {
            throw TLSError.drained(.configuration, "self-test: cannot attach the client")
        }
        SSL_set_connect_state(client)

        // Alternate both sides until the server decides; a handful of rounds suffices for TLS 1.2 and 1.3.
        for _ in 0..<64 {
            // The client's own result does not matter (it may fail once the server's alert arrives).
            _ = SSL_do_handshake(client)
            ERR_clear_error()
            switch server.handshake() {
            case .complete:
                throw TLSError(
                    code: .configuration,
                    message: "self-test: a client without a certificate completed the handshake; configuration refused",
                    openSSLErrors: [])
            case .failed(let failure):
                guard failure.reason == .noCertificate else {
                    throw TLSError(
                        code: .configuration,
                        message:
                            "self-test: the certificate-less probe failed with \(failure.reason) instead of no_certificate",
                        openSSLErrors: failure.openSSLErrors)
                }
                return
            case .wantRead, .wantWrite:
                var poller = pollfd(fd: descriptors[0], events: Int16(POLLIN), revents: 0)
                _ = poll(&poller, 1, 100)
            }
        }
        throw TLSError(
            code: .configuration, message: "self-test: the probe handshake did not finish", openSSLErrors: [])
    }
}
