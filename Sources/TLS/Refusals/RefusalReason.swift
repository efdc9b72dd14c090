internal import COpenSSL

/// A SPEC reason code for a refused connection or request (SPEC "The mTLS listener").
///
/// The set is open: codes are plain strings so the receiver can log and store them verbatim, and new
/// codes can be added without breaking a `switch`.
package struct RefusalReason: Hashable, Sendable, CustomStringConvertible, Error {
    /// The reason code exactly as SPEC spells it, e.g. `unknown_issuer`.
    package let code: String

    /// Creates a reason from its SPEC code.
    package init(code: String) {
        self.code = code
    }

    /// The reason code.
    package var description: String { code }

    /// The client presented no certificate.
    package static let noCertificate = RefusalReason(code: "no_certificate")
    /// The chain does not lead to a certificate in `--client-ca`.
    package static let unknownIssuer = RefusalReason(code: "unknown_issuer")
    /// A certificate in the chain is past its notAfter.
    package static let expired = RefusalReason(code: "expired")
    /// A certificate in the chain is before its notBefore.
    package static let notYetValid = RefusalReason(code: "not_yet_valid")
    /// A certificate in the chain is listed in a configured CRL.
    package static let revoked = RefusalReason(code: "revoked")
    /// The CRL covering a certificate is past its nextUpdate.
    package static let crlStale = RefusalReason(code: "crl_stale")
    /// CRLs are configured but none covers a certificate's issuer.
    package static let crlMissing = RefusalReason(code: "crl_missing")
    /// More intermediates than `--verify-depth` allows.
    package static let chainTooDeep = RefusalReason(code: "chain_too_deep")
    /// The certificate may not be used for TLS client authentication (EKU or key usage).
    package static let badKeyUsage = RefusalReason(code: "bad_key_usage")
    /// Any other handshake failure (plain HTTP, protocol errors, unexpected EOF).
    package static let handshakeFailed = RefusalReason(code: "handshake_failed")
    /// The verified leaf has no CN, or a CN containing NUL (SPEC: "A CN containing a NUL is refused").
    package static let noCN = RefusalReason(code: "no_cn")
    /// The verified leaf has more than one CN (multi-valued RDNs included).
    package static let ambiguousCN = RefusalReason(code: "ambiguous_cn")

    /// The codes TLS decides (handshake and identity), in SPEC order; the receiver's authorization adds its own.
    package static let handshakeAndIdentity: [RefusalReason] = [
        .noCertificate, .unknownIssuer, .expired, .notYetValid, .revoked, .crlStale, .crlMissing, .chainTooDeep,
        .badKeyUsage, .handshakeFailed, .noCN, .ambiguousCN,
    ]

    /// X509_V_ERR_* values and the reason each one maps to; anything not listed is `handshake_failed`.
    private static let verifyResultTable: [Int32: RefusalReason] = [
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: .unknownIssuer,
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: .unknownIssuer,
        X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: .unknownIssuer,
        X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: .unknownIssuer,
        X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: .unknownIssuer,
        X509_V_ERR_CERT_UNTRUSTED: .unknownIssuer,
        X509_V_ERR_CERT_HAS_EXPIRED: .expired,
        X509_V_ERR_CERT_NOT_YET_VALID: .notYetValid,
        X509_V_ERR_CERT_REVOKED: .revoked,
        X509_V_ERR_CRL_HAS_EXPIRED: .crlStale,
        X509_V_ERR_UNABLE_TO_GET_CRL: .crlMissing,
        X509_V_ERR_CERT_CHAIN_TOO_LONG: .chainTooDeep,
        X509_V_ERR_INVALID_PURPOSE: .badKeyUsage,
        X509_V_ERR_KEYUSAGE_NO_CERTSIGN: .badKeyUsage,
        X509_V_ERR_KEYUSAGE_NO_CRL_SIGN: .badKeyUsage,
        X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE: .badKeyUsage,
    ]

    /// Maps an OpenSSL verify result (`SSL_get_verify_result`, an `X509_V_ERR_*` value) to its reason code.
    ///
    /// SPEC: "When several verify errors apply, the reason is the first one OpenSSL reports" — OpenSSL stops at
    /// the first error when no verify callback overrides it, so the single verify result is that first error.
    package static func fromVerifyResult(_ x509VerifyError: Int) -> RefusalReason {
        guard let code = Int32(exactly: x509VerifyError) else { return .handshakeFailed }
        return verifyResultTable[code] ?? .handshakeFailed
    }
}
