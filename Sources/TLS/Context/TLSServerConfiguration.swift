/// The files and limits a `TLSContext` is built from: the `webhookd serve` TLS flags (SPEC "Command line").
package struct TLSServerConfiguration: Sendable, Hashable {
    /// `--cert`: the server certificate chain, PEM, leaf first.
    package var certificateChainPath: String?
    /// `--key`: the server private key, PEM, possibly encrypted.
    package var privateKeyPath: String?
    /// `--key-passphrase-file`: the passphrase for `--key` or `--pkcs12` (one trailing newline is ignored).
    package var keyPassphrasePath: String?
    /// `--pkcs12`: the server certificate, chain and key in one PKCS#12 file (instead of `--cert`/`--key`).
    package var pkcs12Path: String?
    /// `--client-ca`: PEM bundle of the CAs trusted for client certificates (roots and intermediates).
    package var clientCAPath: String
    /// `--crl`: PEM or DER files, each holding one or more CRLs issued by CAs in `clientCAPath`.
    package var crlPaths: [String]
    /// `--verify-depth`: the most intermediate CA certificates allowed between a client certificate and a
    /// trusted CA (OpenSSL semantics).
    package var verifyDepth: Int

    /// Creates a configuration; give either `certificateChainPath` and `privateKeyPath`, or `pkcs12Path`.
    package init(
        certificateChainPath: String? = nil, privateKeyPath: String? = nil, keyPassphrasePath: String? = nil,
        pkcs12Path: String? = nil, clientCAPath: String, crlPaths: [String] = [], verifyDepth: Int = 4
    ) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.keyPassphrasePath = keyPassphrasePath
        self.pkcs12Path = pkcs12Path
        self.clientCAPath = clientCAPath
        self.crlPaths = crlPaths
        self.verifyDepth = verifyDepth
    }
}
