import Glibc

/// What `webhookd certs init` wrote.
package struct DevPKIInitResult: Sendable, Hashable {
    /// The directory layout that was written.
    package let directory: CertsDirectory
    /// The server certificate's subjectAltName entries as OpenSSL prints them, e.g. `DNS:localhost`.
    package let serverSubjectAltNames: [String]
    /// The CA's facts.
    package let ca: CertificateFacts
    /// The server certificate's facts.
    package let server: CertificateFacts
}

extension DevPKI {
    /// Creates (or with `force`, replaces) the dev CA and server certificate of `webhookd certs init`.
    ///
    /// Writes `ca.crt`, `ca.key`, `server.crt`, `server.key` in `directory`; keys get mode 0600. The CA is
    /// CN "webhookd dev CA", valid 10 years; the server certificate has serverAuth and the SANs localhost,
    /// 127.0.0.1 and each of `extraSubjectAltNames` (an IP literal becomes an IP SAN, anything else a DNS SAN).
    /// - Throws: `TLSError` — `.refused` when a file exists and `force` is false (nothing is written then),
    ///   `.input` for a bad SAN or day count, `.system` when a file cannot be written.
    /// > Warning: Blocking file I/O and key generation.
    package static func initialize(
        directory: CertsDirectory, keyType: KeyType = .ecdsaP256, extraSubjectAltNames: [String] = [],
        serverDays: Int = Int(leafDays), force: Bool = false
    ) throws(TLSError) -> DevPKIInitResult {
        try CertsDirectory.validateDays(serverDays)
        var names: [CertificateSpec.SubjectAltName] = [.dns("localhost"), .ip("127.0.0.1")]
        for text in extraSubjectAltNames {
            let name = try subjectAltName(parsing: text)
            if !names.contains(name) { names.append(name) }
        }
        let files = [directory.caCertificate, directory.caKey, directory.serverCertificate, directory.serverKey]
        try CertsDirectory.refuseOverwriting(files, force: force, what: "the dev CA and server certificate")

        let now = currentUnixTime()
        let (ca, caKey) = try makeCA(keyType: keyType, now: now)
        let (server, serverKey) = try makeServer(
            keyType: keyType, subjectAltNames: names, days: Int64(serverDays), ca: ca, caKey: caKey, now: now)
        try FileIO.makeDirectory(directory.path)
        var caKeyBytes = Array(caKey.pem().utf8)
        defer { caKeyBytes.wipe() }
        var serverKeyBytes = Array(serverKey.pem().utf8)
        defer { serverKeyBytes.wipe() }
        // Keys before certificates: an interrupted run leaves a key without a certificate, never the reverse.
        try FileIO.writeAtomically(caKeyBytes, to: directory.caKey, mode: 0o600)
        try FileIO.writeAtomically(Array(ca.pem.utf8), to: directory.caCertificate, mode: 0o644)
        try FileIO.writeAtomically(serverKeyBytes, to: directory.serverKey, mode: 0o600)
        try FileIO.writeAtomically(Array(server.pem.utf8), to: directory.serverCertificate, mode: 0o644)
        let printed = names.map { name in
            switch name {
            case .dns(let host): "DNS:\(host)"
            case .ip(let address): "IP:\(address)"
            }
        }
        return DevPKIInitResult(
            directory: directory, serverSubjectAltNames: printed, ca: ca.facts, server: server.facts)
    }

    /// A new self-signed dev CA: O=webhookd dev, CN=webhookd dev CA, 10 years, no intermediates below it.
    static func makeCA(keyType: KeyType, now: Int64) throws(TLSError) -> (Certificate, PrivateKey) {
        let key = try PrivateKey(generating: keyType)
        let spec = CertificateSpec(
            subject: [("O", "webhookd dev"), ("CN", "webhookd dev CA")], isCA: true, pathLength: 0,
            notBefore: now - 3600, notAfter: now + caDays * 86400)
        return (try PKI.issue(spec, publicKeyOf: key, issuer: nil, issuerKey: key), key)
    }

    /// A new dev server certificate (CN=localhost, serverAuth) signed by the dev CA.
    static func makeServer(
        keyType: KeyType, subjectAltNames: [CertificateSpec.SubjectAltName], days: Int64, ca: Certificate,
        caKey: PrivateKey, now: Int64
    ) throws(TLSError) -> (Certificate, PrivateKey) {
        let key = try PrivateKey(generating: keyType)
        let spec = CertificateSpec(
            subject: [("O", "webhookd dev"), ("CN", "localhost")], notBefore: now - 3600,
            notAfter: now + days * 86400, extendedKeyUsage: [.serverAuth], subjectAltNames: subjectAltNames)
        return (try PKI.issue(spec, publicKeyOf: key, issuer: ca, issuerKey: caKey), key)
    }

    /// A `--san` value: an IPv4 or IPv6 literal becomes an IP SAN; a host name (letters, digits, `-`, `.`, a
    /// leading `*.`) a DNS SAN.
    /// - Throws: `TLSError` (`.input`) for anything else.
    package static func subjectAltName(parsing text: String) throws(TLSError) -> CertificateSpec.SubjectAltName {
        var address = in6_addr()
        if inet_pton(AF_INET, text, &address) == 1 || inet_pton(AF_INET6, text, &address) == 1 {
            return .ip(text)
        }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        let valid =
            !text.isEmpty && text.utf8.count <= 253
            && labels.enumerated().allSatisfy { index, label in
                if index == 0 && label == "*" && labels.count > 2 { return true }
                return (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                    && label.utf8.allSatisfy { byte in
                        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A)
                            || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "-")
                    }
            }
        guard valid else {
            throw TLSError(
                code: .input, message: "--san \(text) is neither an IP address nor a valid DNS name")
        }
        return .dns(text)
    }
}
