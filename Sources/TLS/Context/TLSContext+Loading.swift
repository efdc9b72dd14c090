internal import COpenSSL

/// Everything read and validated from the configured files before an `SSL_CTX` is built.
struct TLSServerMaterial {
    var leaf: Certificate
    var chain: [Certificate]
    var key: PrivateKey
    var certificateAuthorities: [Certificate]
    var revocationLists: [(list: CertificateRevocationList, path: String)]
    var warnings: [String]
}

extension TLSContext {
    /// SPEC's flag names, used to name the culprit in configuration errors.
    enum Flag {
        static let cert = "--cert"
        static let key = "--key"
        static let passphrase = "--key-passphrase-file"
        static let pkcs12 = "--pkcs12"
        static let clientCA = "--client-ca"
        static let crl = "--crl"
        static let verifyDepth = "--verify-depth"
    }

    /// Reads and checks every file of `configuration`; fails closed with one line naming the flag and file.
    static func loadMaterial(_ configuration: TLSServerConfiguration) throws(TLSError) -> TLSServerMaterial {
        try validateVerifyDepth(configuration.verifyDepth)
        var warnings: [String] = []
        let (leaf, chain, key) = try loadIdentity(configuration)
        let now = currentUnixTime()
        let leafFacts = leaf.facts
        let certWhat =
            configuration.pkcs12Path.map { "\(Flag.pkcs12) \($0)" }
            ?? "\(Flag.cert) \(configuration.certificateChainPath ?? "")"
        if leafFacts.notAfter < now {
            throw configurationError("\(certWhat) expired on \(utcDateString(leafFacts.notAfter))")
        }
        if leafFacts.notBefore > now {
            warnings.append("\(certWhat) is not valid before \(utcDateString(leafFacts.notBefore))")
        }

        let authorities = try loadCertificateAuthorities(configuration.clientCAPath, warnings: &warnings)
        let lists = try loadRevocationLists(
            configuration.crlPaths, authorities: authorities, now: now, warnings: &warnings)
        return TLSServerMaterial(
            leaf: leaf, chain: chain, key: key, certificateAuthorities: authorities, revocationLists: lists,
            warnings: warnings)
    }

    /// Checks `--verify-depth` (0...32).
    static func validateVerifyDepth(_ depth: Int) throws(TLSError) {
        guard (0...32).contains(depth) else {
            throw configurationError("\(Flag.verifyDepth) \(depth) is outside 0...32")
        }
    }

    /// The CRLs of every `--crl` file: each must be signed by one of `authorities`; a CRL past its nextUpdate
    /// (or without one) is loaded with a warning.
    static func loadRevocationLists(
        _ paths: [String], authorities: [Certificate], now: Int64, warnings: inout [String]
    ) throws(TLSError) -> [(list: CertificateRevocationList, path: String)] {
        var lists: [(list: CertificateRevocationList, path: String)] = []
        for path in paths {
            let what = "\(Flag.crl) \(path)"
            let found = try CertificateRevocationList.parseAll(try FileIO.read(path, what: what))
            guard !found.isEmpty else { throw configurationError("\(what) holds no CRL (PEM or DER)") }
            for list in found {
                guard authorities.contains(where: { list.isSigned(by: $0) }) else {
                    throw configurationError(
                        "\(what) holds a CRL issued by \(list.issuer) that is not signed by a \(Flag.clientCA) certificate"
                    )
                }
                if let next = list.nextUpdate, next < now {
                    warnings.append(
                        "\(what): the CRL of \(list.issuer) is past its nextUpdate (\(utcDateString(next)));"
                            + " clients it covers are refused with crl_stale until a fresh one is loaded")
                } else if list.nextUpdate == nil {
                    warnings.append("\(what): the CRL of \(list.issuer) has no nextUpdate")
                }
                lists.append((list, path))
            }
        }
        return lists
    }

    /// The server certificate, its chain and key, from `--cert`/`--key` or `--pkcs12`.
    private static func loadIdentity(_ configuration: TLSServerConfiguration) throws(TLSError) -> (
        Certificate, [Certificate], PrivateKey
    ) {
        var passphrase: [UInt8]? = nil
        defer { passphrase?.wipe() }
        if let path = configuration.keyPassphrasePath {
            var bytes = try FileIO.read(path, what: "\(Flag.passphrase) \(path)")
            if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            passphrase = bytes
            bytes.wipe()
        }
        let passphraseWhat = configuration.keyPassphrasePath.map { "\(Flag.passphrase) \($0)" }

        if let p12Path = configuration.pkcs12Path {
            guard configuration.certificateChainPath == nil, configuration.privateKeyPath == nil else {
                throw configurationError("give either \(Flag.pkcs12) or \(Flag.cert) and \(Flag.key), not both")
            }
            return try loadPKCS12(p12Path, passphrase: passphrase, passphraseWhat: passphraseWhat)
        }
        guard let certPath = configuration.certificateChainPath else {
            throw configurationError("\(Flag.cert) (or \(Flag.pkcs12)) is required")
        }
        guard let keyPath = configuration.privateKeyPath else {
            throw configurationError("\(Flag.key) is required with \(Flag.cert)")
        }
        let certWhat = "\(Flag.cert) \(certPath)"
        let certificates = try Certificate.parseAll(try FileIO.read(certPath, what: certWhat))
        guard let leaf = certificates.first else { throw configurationError("\(certWhat) holds no certificate") }
        let keyWhat = "\(Flag.key) \(keyPath)"
        var keyBytes = try FileIO.read(keyPath, what: keyWhat)
        defer { keyBytes.wipe() }
        let key: PrivateKey
        do {
            key = PrivateKey(
                takingOwnership: try PrivateKey.parse(
                    keyBytes, passphrase: passphrase, what: keyWhat, passphraseWhat: passphraseWhat))
        } catch {
            throw TLSError(code: .configuration, message: error.message, openSSLErrors: error.openSSLErrors)
        }
        guard key.matches(leaf) else { throw configurationError("\(keyWhat) does not match \(certWhat)") }
        return (leaf, Array(certificates.dropFirst()), key)
    }

    /// The certificate, key and extra certificates of a PKCS#12 file.
    private static func loadPKCS12(_ path: String, passphrase: [UInt8]?, passphraseWhat: String?) throws(TLSError)
        -> (Certificate, [Certificate], PrivateKey)
    {
        let what = "\(Flag.pkcs12) \(path)"
        guard let contents = try PKCS12Contents.parse(try FileIO.read(path, what: what), passphrase: passphrase) else {
            throw TLSError.drained(.configuration, "\(what) is not a PKCS#12 file")
        }
        let (leaf, chain, key) = (contents.leaf, contents.extras, contents.key)
        guard contents.parsed else {
            let message =
                passphraseWhat.map { "\(what) cannot be decrypted with \($0) (wrong passphrase?)" }
                ?? "\(what) is encrypted and no \(Flag.passphrase) was given"
            throw TLSError.drained(.configuration, message)
        }
        guard let leaf else { throw configurationError("\(what) holds no certificate") }
        guard let key else { throw configurationError("\(what) holds no private key") }
        guard key.matches(leaf) else { throw configurationError("\(what): its key does not match its certificate") }
        return (leaf, chain, key)
    }

    /// The CA certificates of `--client-ca`: at least one with basicConstraints CA:TRUE, or an error.
    static func loadCertificateAuthorities(_ path: String, warnings: inout [String]) throws(TLSError)
        -> [Certificate]
    {
        let what = "\(Flag.clientCA) \(path)"
        let certificates = try Certificate.parseAll(try FileIO.read(path, what: what))
        guard !certificates.isEmpty else { throw configurationError("\(what) holds no certificate") }
        var authorities: [Certificate] = []
        let now = currentUnixTime()
        for certificate in certificates {
            let facts = certificate.facts
            guard facts.isCA else {
                warnings.append("\(what): skipped \(facts.subject), which is not a CA certificate")
                continue
            }
            if facts.notAfter < now {
                warnings.append("\(what): CA \(facts.subject) expired on \(utcDateString(facts.notAfter))")
            }
            authorities.append(certificate)
        }
        guard !authorities.isEmpty else { throw configurationError("\(what) holds no CA certificate") }
        return authorities
    }

    private static func configurationError(_ message: String) -> TLSError {
        TLSError(code: .configuration, message: message, openSSLErrors: TLSError.drainOpenSSLErrors())
    }
}
