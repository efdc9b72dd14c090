import Bytes
internal import COpenSSL
import Glibc

/// What `webhookd certs inspect` shows about one certificate: the `PeerCertificate` facts plus key type,
/// subjectAltNames, extended key usages and the days left.
package struct CertificateDetails: Sendable, Hashable, Encodable {
    /// Subject, issuer, serial, SHA-256 and validity in SPEC's formats.
    package let facts: CertificateFacts
    /// The public key, e.g. "ECDSA P-256", "RSA 2048", "ED25519".
    package let keyType: String
    /// subjectAltName entries, e.g. `DNS:localhost`, `IP:127.0.0.1`; empty when there is no extension.
    package let subjectAltNames: [String]
    /// Extended key usages by OpenSSL short name (`clientAuth`, `serverAuth`) or dotted OID; empty = none.
    package let extendedKeyUsages: [String]
    /// Whole days until notAfter, rounded down; negative once expired.
    package let daysRemaining: Int64
    /// Whether notAfter is in the past.
    package let isExpired: Bool
    /// Whether notBefore is in the future.
    package let isNotYetValid: Bool

    /// Days left at or below which `inspect` prints a warning.
    package static let warningDays: Int64 = 30

    /// Reads the details of `certificate` as of `now` (unix seconds).
    init(_ certificate: Certificate, now: Int64) {
        let facts = certificate.facts
        self.facts = facts
        self.keyType = Self.keyDescription(X509_get0_pubkey(certificate.raw))
        self.subjectAltNames = Self.subjectAltNames(certificate.raw)
        self.extendedKeyUsages = Self.extendedKeyUsages(certificate.raw)
        let seconds = facts.notAfter - now
        self.daysRemaining = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400)
        self.isExpired = facts.notAfter < now
        self.isNotYetValid = facts.notBefore > now
    }

    /// `key: value` lines in a fixed order (SPEC: `inspect` prints `key: value` lines).
    package var lines: [String] {
        var days = "\(daysRemaining)"
        if isExpired {
            days += " (EXPIRED)"
        } else if daysRemaining <= Self.warningDays {
            days += " (WARNING: expires in \(daysRemaining) days)"
        }
        if isNotYetValid { days += " (NOT YET VALID)" }
        return [
            "subject: \(facts.subject)",
            "issuer: \(facts.issuer)",
            "serial: \(facts.serialHex)",
            "not_before: \(utcTimestampString(facts.notBefore))",
            "not_after: \(utcTimestampString(facts.notAfter))",
            "days_remaining: \(days)",
            "sha256: \(facts.sha256)",
            "key_type: \(keyType)",
            "san: \(subjectAltNames.isEmpty ? "(none)" : subjectAltNames.joined(separator: ", "))",
            "eku: \(extendedKeyUsages.isEmpty ? "(none)" : extendedKeyUsages.joined(separator: ", "))",
            "is_ca: \(facts.isCA ? "yes" : "no")",
        ]
    }

    private enum CodingKeys: String, CodingKey {
        case subject, issuer, serial, notBefore = "not_before", notAfter = "not_after"
        case daysRemaining = "days_remaining", expired, notYetValid = "not_yet_valid", sha256
        case keyType = "key_type", san, eku, isCA = "is_ca"
    }

    /// The JSON object for `--json`: the same keys as the text lines plus `expired` and `not_yet_valid`.
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(facts.subject, forKey: .subject)
        try container.encode(facts.issuer, forKey: .issuer)
        try container.encode(facts.serialHex, forKey: .serial)
        try container.encode(utcTimestampString(facts.notBefore), forKey: .notBefore)
        try container.encode(utcTimestampString(facts.notAfter), forKey: .notAfter)
        try container.encode(daysRemaining, forKey: .daysRemaining)
        try container.encode(isExpired, forKey: .expired)
        try container.encode(isNotYetValid, forKey: .notYetValid)
        try container.encode(facts.sha256, forKey: .sha256)
        try container.encode(keyType, forKey: .keyType)
        try container.encode(subjectAltNames, forKey: .san)
        try container.encode(extendedKeyUsages, forKey: .eku)
        try container.encode(facts.isCA, forKey: .isCA)
    }

    // MARK: - Reading extensions

    /// "RSA 2048", "ECDSA P-256" (NIST name when the curve has one), or the algorithm's short name.
    static func keyDescription(_ key: OpaquePointer?) -> String {
        guard let key else { return "unknown" }
        let type = EVP_PKEY_get_base_id(key)
        if type == EVP_PKEY_RSA { return "RSA \(EVP_PKEY_get_bits(key))" }
        if type == EVP_PKEY_EC {
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_group_name(key, &name, name.count, &length) == 1 else {
                _ = TLSError.drainOpenSSLErrors()  // an EC key without a named curve: say so below
                return "ECDSA (explicit curve)"
            }
            let text = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let nist = EC_curve_nid2nist(OBJ_sn2nid(name)).map { String(cString: $0) }
            return "ECDSA \(nist ?? text)"
        }
        return OBJ_nid2sn(type).map { String(cString: $0) } ?? "unknown"
    }

    /// The subjectAltName entries as `DNS:…`, `IP:…`, `email:…`, `URI:…` (others by their kind).
    static func subjectAltNames(_ x509: OpaquePointer) -> [String] {
        guard let raw = X509_get_ext_d2i(x509, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var result: [String] = []
        for index in 0..<COpenSSL_sk_GENERAL_NAME_num(names) {
            guard let name = COpenSSL_sk_GENERAL_NAME_value(names, index) else { continue }
            switch name.pointee.type {
            case GEN_DNS: result.append("DNS:" + text(name.pointee.d.dNSName))
            case GEN_EMAIL: result.append("email:" + text(name.pointee.d.rfc822Name))
            case GEN_URI: result.append("URI:" + text(name.pointee.d.uniformResourceIdentifier))
            case GEN_IPADD: result.append("IP:" + address(name.pointee.d.iPAddress))
            case GEN_DIRNAME: result.append("DirName:" + PeerCertificate.rfc4514(name.pointee.d.directoryName))
            default: result.append("othername")
            }
        }
        return result
    }

    /// The extended key usages by short name (`clientAuth`) or dotted OID.
    static func extendedKeyUsages(_ x509: OpaquePointer) -> [String] {
        guard let raw = X509_get_ext_d2i(x509, NID_ext_key_usage, nil, nil) else { return [] }
        let usages = OpaquePointer(raw)
        defer { EXTENDED_KEY_USAGE_free(usages) }
        var result: [String] = []
        for index in 0..<COpenSSL_sk_ASN1_OBJECT_num(usages) {
            guard let object = COpenSSL_sk_ASN1_OBJECT_value(usages, index) else { continue }
            let nid = OBJ_obj2nid(object)
            if nid != NID_undef, let name = OBJ_nid2sn(nid) {
                result.append(String(cString: name))
            } else {
                var buffer = [CChar](repeating: 0, count: 128)
                let length = OBJ_obj2txt(&buffer, Int32(buffer.count), object, 1)
                result.append(
                    String(decoding: buffer.prefix(Int(max(length, 0))).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        return result
    }

    /// An IA5String's bytes as text.
    private static func text(_ string: UnsafeMutablePointer<ASN1_STRING>?) -> String {
        guard let string, let data = ASN1_STRING_get0_data(string) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))), as: UTF8.self)
    }

    /// An iPAddress octet string (4 or 16 bytes) in text form.
    private static func address(_ string: UnsafeMutablePointer<ASN1_STRING>?) -> String {
        guard let string, let data = ASN1_STRING_get0_data(string) else { return "" }
        let length = Int(ASN1_STRING_length(string))
        let family: Int32
        switch length {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return Hex.string(UnsafeBufferPointer(start: data, count: length))
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(family, data, &buffer, socklen_t(buffer.count)) != nil else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
