/// What `PKI.issue` should put into a new certificate.
package struct CertificateSpec: Sendable {
    /// An extended key usage purpose.
    package enum ExtendedKeyUsage: String, Sendable, Hashable {
        /// TLS server authentication (`serverAuth`).
        case serverAuth
        /// TLS client authentication (`clientAuth`).
        case clientAuth
    }

    /// A subjectAltName entry.
    package enum SubjectAltName: Sendable, Hashable {
        /// A DNS name.
        case dns(String)
        /// An IPv4 or IPv6 address in text form.
        case ip(String)
    }

    /// Subject RDNs in order, one attribute each, e.g. `[("O", "Example"), ("CN", "acme")]`. Two `CN` entries
    /// make two RDNs; values may hold any UTF-8, NUL included.
    package var subject: [(String, String)]
    /// CN values placed together in one final multi-valued RDN (`CN=a+CN=b`); empty = none.
    package var multiValuedCNs: [String]
    /// Whether the certificate is a CA (basicConstraints CA:TRUE, keyCertSign and cRLSign).
    package var isCA: Bool
    /// basicConstraints pathLenConstraint for a CA; `nil` = unlimited.
    package var pathLength: Int?
    /// notBefore in unix seconds.
    package var notBefore: Int64
    /// notAfter in unix seconds.
    package var notAfter: Int64
    /// Extended key usages; empty = no extension.
    package var extendedKeyUsage: [ExtendedKeyUsage]
    /// subjectAltName entries; empty = no extension.
    package var subjectAltNames: [SubjectAltName]
    /// The serial number's big-endian bytes; `nil` = random positive 128-bit.
    package var serial: [UInt8]?

    /// Creates a spec; by default a leaf valid from an hour ago for 365 days.
    package init(
        subject: [(String, String)], multiValuedCNs: [String] = [], isCA: Bool = false, pathLength: Int? = nil,
        notBefore: Int64? = nil, notAfter: Int64? = nil, extendedKeyUsage: [ExtendedKeyUsage] = [],
        subjectAltNames: [SubjectAltName] = [], serial: [UInt8]? = nil
    ) {
        let now = currentUnixTime()
        self.subject = subject
        self.multiValuedCNs = multiValuedCNs
        self.isCA = isCA
        self.pathLength = pathLength
        self.notBefore = notBefore ?? now - 3600
        self.notAfter = notAfter ?? now + 365 * 86400
        self.extendedKeyUsage = extendedKeyUsage
        self.subjectAltNames = subjectAltNames
        self.serial = serial
    }
}
