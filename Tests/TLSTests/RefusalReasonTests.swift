import COpenSSL
import TLS
import Testing

@Suite("RefusalReason")
struct RefusalReasonTests {
    static let cases: [(Int32, String)] = [
        (X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, "unknown_issuer"),
        (X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "unknown_issuer"),
        (X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, "unknown_issuer"),
        (X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "unknown_issuer"),
        (X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "unknown_issuer"),
        (X509_V_ERR_CERT_UNTRUSTED, "unknown_issuer"),
        (X509_V_ERR_CERT_HAS_EXPIRED, "expired"),
        (X509_V_ERR_CERT_NOT_YET_VALID, "not_yet_valid"),
        (X509_V_ERR_CERT_REVOKED, "revoked"),
        (X509_V_ERR_CRL_HAS_EXPIRED, "crl_stale"),
        (X509_V_ERR_UNABLE_TO_GET_CRL, "crl_missing"),
        (X509_V_ERR_CERT_CHAIN_TOO_LONG, "chain_too_deep"),
        (X509_V_ERR_INVALID_PURPOSE, "bad_key_usage"),
        (X509_V_ERR_KEYUSAGE_NO_CERTSIGN, "bad_key_usage"),
        (X509_V_ERR_KEYUSAGE_NO_CRL_SIGN, "bad_key_usage"),
        (X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE, "bad_key_usage"),
        (X509_V_ERR_CERT_SIGNATURE_FAILURE, "handshake_failed"),
        (X509_V_ERR_CRL_NOT_YET_VALID, "handshake_failed"),
        (X509_V_ERR_HOSTNAME_MISMATCH, "handshake_failed"),
        (X509_V_OK, "handshake_failed"),
    ]

    @Test("each X509 verify error maps to its SPEC reason", arguments: cases)
    func verifyErrorMapsToReason(error: Int32, code: String) {
        #expect(RefusalReason.fromVerifyResult(Int(error)).code == code)
    }

    @Test func unknownAndOutOfRangeVerifyErrorsAreHandshakeFailed() {
        #expect(RefusalReason.fromVerifyResult(9999) == .handshakeFailed)
        #expect(RefusalReason.fromVerifyResult(-1) == .handshakeFailed)
        #expect(RefusalReason.fromVerifyResult(Int.max) == .handshakeFailed)
    }

    @Test func everySpecReasonCodeIsSpelledAsSpecSaysIt() {
        #expect(
            RefusalReason.handshakeAndIdentity.map(\.code) == [
                "no_certificate", "unknown_issuer", "expired", "not_yet_valid", "revoked", "crl_stale", "crl_missing",
                "chain_too_deep", "bad_key_usage", "handshake_failed", "no_cn", "ambiguous_cn",
            ])
        #expect("\(RefusalReason.noCN)" == "no_cn")
    }

    @Test func identityNeedsExactlyOneCNWithoutNUL() {
        func facts(_ names: [String], nul: Bool = false) -> PeerCertificate {
            PeerCertificate(
                subject: "", issuer: "", serialHex: "01", sha256: "", notBefore: 0, notAfter: 0, commonNames: names,
                cnContainsNUL: nul, issuerCertificateSHA256: nil)
        }
        #expect(facts(["acme"]).identity == .success("acme"))
        #expect(facts([]).identity == .failure(.noCN))
        #expect(facts(["a", "b"]).identity == .failure(.ambiguousCN))
        #expect(facts(["a\u{0}b"], nul: true).identity == .failure(.noCN))
    }
}
