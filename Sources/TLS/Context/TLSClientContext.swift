internal import COpenSSL

/// What a test or health-check client presents and trusts.
package struct TLSClientConfiguration: Sendable, Hashable {
    /// PEM file with the client certificate followed by any intermediates; `nil` = present no certificate.
    package var certificateChainPath: String?
    /// PEM file with the client key.
    package var privateKeyPath: String?
    /// PEM bundle trusted for the server certificate.
    package var trustedCAPath: String
    /// The highest protocol to offer, e.g. `TLS1_2_VERSION` as `.tls12`; `nil` = TLS 1.3.
    package var maximumVersion: TLSProtocolVersion?

    /// Creates a client configuration.
    package init(
        certificateChainPath: String? = nil, privateKeyPath: String? = nil, trustedCAPath: String,
        maximumVersion: TLSProtocolVersion? = nil
    ) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.trustedCAPath = trustedCAPath
        self.maximumVersion = maximumVersion
    }
}

/// A TLS protocol version webhookd speaks.
package enum TLSProtocolVersion: Sendable, Hashable {
    /// TLS 1.2.
    case tls12
    /// TLS 1.3.
    case tls13

    var openSSLValue: Int32 {
        switch self {
        case .tls12: TLS1_2_VERSION
        case .tls13: TLS1_3_VERSION
        }
    }
}

/// Owns one client `SSL_CTX *`, configured once and then only read.
///
/// Any thread may create connections from it.
// Sendable because the SSL_CTX is fully configured in init and only used for SSL_new afterwards, which
// OpenSSL documents as thread-safe.
package final class TLSClientContext: @unchecked Sendable {
    let raw: OpaquePointer

    /// Builds a client context that verifies the server against `trustedCAPath` only.
    /// - Throws: `TLSError` naming the file that cannot be read or does not match.
    package init(configuration: TLSClientConfiguration) throws(TLSError) {
        ERR_clear_error()
        guard let raw = SSL_CTX_new(TLS_client_method()) else {
            throw TLSError.drained(.configuration, "could not create an OpenSSL client context")
        }
        self.raw = raw
        guard COpenSSL_SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION) == 1,
            COpenSSL_SSL_CTX_set_max_proto_version(raw, (configuration.maximumVersion ?? .tls13).openSSLValue) == 1
        else { throw TLSError.drained(.configuration, "could not set the client protocol versions") }
        guard let store = SSL_CTX_get_cert_store(raw) else {
            throw TLSError.drained(.configuration, "the client context has no certificate store")
        }
        let trusted = try Certificate.parseAll(
            try FileIO.read(configuration.trustedCAPath, what: configuration.trustedCAPath))
        guard !trusted.isEmpty else {
            throw TLSError(code: .configuration, message: "\(configuration.trustedCAPath) holds no certificate")
        }
        for certificate in trusted where X509_STORE_add_cert(store, certificate.raw) != 1 {
            throw TLSError.drained(.configuration, "could not trust \(certificate.facts.subject)")
        }
        SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nil)
        if let chainPath = configuration.certificateChainPath {
            let chain = try Certificate.parseAll(try FileIO.read(chainPath, what: chainPath))
            guard let leaf = chain.first else {
                throw TLSError(code: .configuration, message: "\(chainPath) holds no certificate")
            }
            let key = try PrivateKey(pemFile: configuration.privateKeyPath ?? chainPath)
            guard let stack = COpenSSL_sk_X509_new_null() else {
                throw TLSError.drained(.configuration, "could not allocate a certificate stack")
            }
            // The stack only borrows: SSL_CTX_use_cert_and_key takes its own references.
            defer { COpenSSL_sk_X509_free(stack) }
            for certificate in chain.dropFirst() where COpenSSL_sk_X509_push(stack, certificate.raw) <= 0 {
                throw TLSError.drained(.configuration, "could not build the client certificate chain")
            }
            guard SSL_CTX_use_cert_and_key(raw, leaf.raw, key.raw, stack, 1) == 1 else {
                throw TLSError.drained(.configuration, "\(chainPath) and its key cannot be used together")
            }
        }
    }

    deinit {
        SSL_CTX_free(raw)
    }
}
