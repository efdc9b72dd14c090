import Foundation
import Receiver
import TLS
import TestSupport
import Testing

@Suite("ClientAuthorizationPolicy.authorize")
struct CertsClientAuthorizationPolicyTests {
    static let leafSHA = String(repeating: "a", count: 64)
    static let otherSHA = String(repeating: "b", count: 64)
    static let issuerSHA = String(repeating: "c", count: 64)

    static func certificate(cn: [String] = ["acme"], issuer: String? = issuerSHA) -> PeerCertificate {
        PeerCertificate(
            subject: "CN=acme", issuer: "CN=Test CA", serialHex: "01", sha256: leafSHA, notBefore: 0,
            notAfter: 4_000_000_000, commonNames: cn, cnContainsNUL: false, issuerCertificateSHA256: issuer)
    }

    static func grant(
        enabled: Bool = true, endpoints: [String] = ["orders"], pins: [String] = [], issuers: [String] = []
    ) -> ClientGrant {
        ClientGrant(clientID: "acme", enabled: enabled, endpoints: endpoints, pinsSHA256: pins, issuersSHA256: issuers)
    }

    static func reason(_ result: Result<Void, RefusalReason>) -> RefusalReason? {
        if case .failure(let reason) = result { return reason }
        return nil
    }

    func check(
        _ grant: ClientGrant?, endpoint: String? = "orders", certificate: PeerCertificate = certificate()
    ) -> RefusalReason? {
        Self.reason(ClientAuthorizationPolicy.authorize(certificate: certificate, grant: grant, endpoint: endpoint))
    }

    @Test func grantedEnabledClientIsAuthorized() {
        #expect(check(Self.grant()) == nil)
    }

    @Test func missingGrantIsUnknownClient() {
        #expect(check(nil) == .unknownClient)
        #expect(check(nil, endpoint: nil) == .unknownClient)
    }

    @Test func grantForAnotherIdentityIsUnknownClient() {
        #expect(check(Self.grant(), certificate: Self.certificate(cn: ["other"])) == .unknownClient)
        #expect(check(Self.grant(), certificate: Self.certificate(cn: ["acme", "acme"])) == .unknownClient)
        #expect(check(Self.grant(), certificate: Self.certificate(cn: ["Acme"])) == .unknownClient)
    }

    @Test func disabledClientIsRefusedBeforeEndpointChecks() {
        #expect(check(Self.grant(enabled: false)) == .clientDisabled)
        #expect(check(Self.grant(enabled: false, endpoints: []), endpoint: "other") == .clientDisabled)
    }

    @Test func endpointMustBeGrantedByNameOrStar() {
        #expect(check(Self.grant(), endpoint: "refunds") == .endpointNotGranted)
        #expect(check(Self.grant(endpoints: []), endpoint: "orders") == .endpointNotGranted)
        #expect(check(Self.grant(endpoints: ["*"]), endpoint: "anything") == nil)
        #expect(check(Self.grant(endpoints: ["refunds", "orders"]), endpoint: "orders") == nil)
        // Names compare exactly: no case folding, no prefix match.
        #expect(check(Self.grant(), endpoint: "Orders") == .endpointNotGranted)
        #expect(check(Self.grant(), endpoint: "order") == .endpointNotGranted)
        // No endpoint asked for: the grant list is not checked.
        #expect(check(Self.grant(endpoints: []), endpoint: nil) == nil)
    }

    @Test func pinsRestrictTheLeafWhenPresent() {
        #expect(check(Self.grant(pins: [Self.leafSHA])) == nil)
        #expect(check(Self.grant(pins: [Self.otherSHA, Self.leafSHA])) == nil)
        #expect(check(Self.grant(pins: [Self.otherSHA])) == .pinMismatch)
        #expect(check(Self.grant(pins: [])) == nil)
    }

    @Test func endpointIsCheckedBeforePins() {
        #expect(check(Self.grant(pins: [Self.otherSHA]), endpoint: "refunds") == .endpointNotGranted)
    }

    @Test func issuersRestrictTheIssuingCAWhenPresent() {
        #expect(check(Self.grant(issuers: [Self.issuerSHA])) == nil)
        #expect(check(Self.grant(issuers: [Self.otherSHA])) == .issuerMismatch)
        #expect(check(Self.grant(issuers: [])) == nil)
        #expect(check(Self.grant(issuers: []), certificate: Self.certificate(issuer: nil)) == nil)
    }

    @Test func unknownIssuerWithIssuersConfiguredIsIssuerMismatch() {
        #expect(
            check(Self.grant(issuers: [Self.issuerSHA]), certificate: Self.certificate(issuer: nil)) == .issuerMismatch)
    }

    @Test func pinsAreCheckedBeforeIssuers() {
        #expect(check(Self.grant(pins: [Self.otherSHA], issuers: [Self.otherSHA])) == .pinMismatch)
    }

    @Test func explainStepsAgreeWithAuthorize() {
        let grants: [ClientGrant?] = [
            nil, Self.grant(), Self.grant(enabled: false), Self.grant(endpoints: ["*"]), Self.grant(endpoints: []),
            Self.grant(pins: [Self.otherSHA]), Self.grant(issuers: [Self.otherSHA]),
            Self.grant(pins: [Self.leafSHA], issuers: [Self.issuerSHA]),
        ]
        for grant in grants {
            for endpoint in ["orders", "refunds", nil] as [String?] {
                let steps = ClientAuthorizationPolicy.explainSteps(
                    certificate: Self.certificate(), grant: grant, endpoint: endpoint)
                let firstFailure = steps.first { $0.status == .fail }?.reason
                #expect(
                    firstFailure == check(grant, endpoint: endpoint), "\(String(describing: grant)) \(endpoint ?? "-")")
            }
        }
    }

    // MARK: - certs explain

    @Test func libraryAddsRegistryStepsFromAGrant() throws {
        var explanation = try CertificateExplanation.verify(
            path: TestPKI.shared.validClient.certificatePath, clientCAPath: TestPKI.shared.clientCABundle)
        let certificate = try #require(explanation.certificate)
        let printed = try TestSupportProcess.run(
            "/usr/bin/openssl", ["x509", "-in", TestPKI.shared.rootCA, "-noout", "-fingerprint", "-sha256"])
        let root = String(printed.stdout.split(separator: "=").last ?? "").trimmingCharacters(
            in: .whitespacesAndNewlines
        )
        .replacingOccurrences(of: ":", with: "").lowercased()
        explanation.authorize(
            grant: ClientGrant(
                clientID: "acme", enabled: true, endpoints: ["orders", "refunds"], pinsSHA256: [certificate.sha256],
                issuersSHA256: [root]),
            endpoint: "orders")
        #expect(explanation.isAccepted)
        #expect(
            explanation.steps.map(\.name) == [
                "parse", "chain", "identity", "registered", "enabled", "endpoint", "pin", "issuer",
            ])
        #expect(explanation.resultLine == "result: accepted as client acme on endpoints orders,refunds")

        var refused = try CertificateExplanation.verify(
            path: TestPKI.shared.validClient.certificatePath, clientCAPath: TestPKI.shared.clientCABundle)
        refused.authorize(
            grant: ClientGrant(clientID: "acme", enabled: false, endpoints: ["*"]), endpoint: "billing")
        #expect(!refused.isAccepted)
        #expect(refused.firstFailure?.line == "enabled: fail (client_disabled: the client is disabled)")
        #expect(refused.resultLine == "result: refused (client_disabled)")

        var unknown = try CertificateExplanation.verify(
            path: TestPKI.shared.validClient.certificatePath, clientCAPath: TestPKI.shared.clientCABundle)
        unknown.authorize(grant: nil, endpoint: nil)
        #expect(
            unknown.lines.suffix(2) == [
                "registered: fail (unknown_client: no client with this id is registered)",
                "result: refused (unknown_client)",
            ])
    }
}

@Suite("Reason codes")
struct ReasonCodeTests {
    @Test func everySpecReasonCodeIsSpelledAsSpecSaysItInSpecOrder() {
        #expect(
            RefusalReason.all.map(\.code) == [
                "no_certificate", "unknown_issuer", "expired", "not_yet_valid", "revoked", "crl_stale", "crl_missing",
                "chain_too_deep", "bad_key_usage", "handshake_failed", "no_cn", "ambiguous_cn", "unknown_client",
                "client_disabled", "endpoint_not_granted", "pin_mismatch", "issuer_mismatch", "rate_limited",
                "too_many_connections", "signature_missing", "signature_invalid", "signature_expired",
            ])
    }
}

@Suite("Client ids are compared byte for byte")
struct ClientKeyTests {
    static let nfc = "caf\u{E9}"  // é as one scalar
    static let nfd = "cafe\u{301}"  // e + combining acute

    @Test func canonicallyEquivalentSpellingsAreTwoClients() throws {
        #expect(Self.nfc == Self.nfd)  // Swift's String equality: the trap this type avoids
        #expect(ClientKey(Self.nfc) != ClientKey(Self.nfd))
        #expect(ClientKey(Self.nfc) == ClientKey("caf\u{E9}"))
        #expect(Set([ClientKey(Self.nfc), ClientKey(Self.nfd)]).count == 2)
    }

    @Test func theSnapshotAuthorizesEachSpellingAgainstItsOwnRow() {
        func certificate(_ cn: String) -> PeerCertificate {
            PeerCertificate(
                subject: "CN=\(cn)", issuer: "CN=CA", serialHex: "01", sha256: String(repeating: "a", count: 64),
                notBefore: 0, notAfter: 4_000_000_000, commonNames: [cn], cnContainsNUL: false,
                issuerCertificateSHA256: nil)
        }
        let snapshot = AuthorizationSnapshot(grants: [
            ClientKey(Self.nfc): ClientGrant(clientID: Self.nfc, enabled: true, endpoints: ["orders"]),
            ClientKey(Self.nfd): ClientGrant(clientID: Self.nfd, enabled: false, endpoints: ["orders"]),
        ])
        #expect(snapshot.authorize(certificate(Self.nfc), endpoint: "orders", now: 1) == .success(Self.nfc))
        #expect(snapshot.authorize(certificate(Self.nfd), endpoint: "orders", now: 1) == .failure(.clientDisabled))
    }
}
