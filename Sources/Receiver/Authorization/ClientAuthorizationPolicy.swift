import Bytes
package import TLS

/// One client's registry row, as the authorization decision needs it (the `clients` table's `enabled`,
/// `endpoints`, `pins_sha256` and `issuers_sha256`), filled in by the bookkeeper or by `certs explain`.
package struct ClientGrant: Sendable, Hashable {
    /// The client id (the certificate CN it was looked up by).
    package var clientID: String
    /// Disabled clients are refused.
    package var enabled: Bool
    /// Granted endpoint names; `*` grants every endpoint.
    package var endpoints: [String]
    /// Allowed leaf SHA-256 fingerprints, 64 lower-case hex (normalised on input); empty = no pinning.
    package var pinsSHA256: [String]
    /// Allowed issuing CA certificate SHA-256 fingerprints, 64 lower-case hex; empty = any configured CA.
    package var issuersSHA256: [String]
    /// `clients.max_connections`; nil: the receiver's `--client-max-connections`.
    package var maxConnections: Int? = nil
    /// `clients.rate_per_second` and `burst`; nil rate: unlimited; nil burst: the rate, at least 1.
    package var ratePerSecond: Double? = nil
    package var burst: Int? = nil
    /// `clients.signature_scheme`/`signature_mode` with the client's secrets; nil: no signature check.
    package var signature: SignatureRequirement? = nil

    /// Creates a grant from a registry row.
    package init(
        clientID: String, enabled: Bool, endpoints: [String], pinsSHA256: [String] = [], issuersSHA256: [String] = []
    ) {
        self.clientID = clientID
        self.enabled = enabled
        self.endpoints = endpoints
        self.pinsSHA256 = pinsSHA256
        self.issuersSHA256 = issuersSHA256
    }

    /// Whether `endpoint` is granted by name or by `*`.
    package func grants(endpoint: String) -> Bool {
        endpoints.contains { $0 == "*" || $0 == endpoint }
    }

    /// Whether the leaf fingerprint passes the pins (always, when there are none).
    package func allowsLeaf(sha256: String) -> Bool {
        pinsSHA256.isEmpty || pinsSHA256.contains(sha256)
    }

    /// Whether the issuing CA passes the issuer list (always, when there is none). An unknown issuer
    /// fingerprint never passes a non-empty list.
    package func allowsIssuer(sha256: String?) -> Bool {
        guard !issuersSHA256.isEmpty else { return true }
        guard let sha256 else { return false }
        return issuersSHA256.contains(sha256)
    }
}

/// SPEC's authorization of a verified client certificate, decided on every request (SPEC "The mTLS listener":
/// "Authorization, on every request"). Pure and allocation-free on the accepting path: the receiver runs it per
/// request, `webhookd certs explain` runs it offline.
package enum ClientAuthorizationPolicy {
    /// Decides whether `certificate` may post to `endpoint`.
    ///
    /// The caller has already checked the identity (exactly one CN, SPEC `no_cn`/`ambiguous_cn`) and looked up
    /// `grant` by that CN. In SPEC's order: no grant (or a grant for another client id) → `unknown_client`;
    /// disabled → `client_disabled`; `endpoint` neither granted nor covered by `*` → `endpoint_not_granted`
    /// (`nil` skips this check: no endpoint is being asked for); pins set and the leaf's SHA-256 not among them →
    /// `pin_mismatch`; issuers set and the issuing CA's SHA-256 not among them, or unknown → `issuer_mismatch`.
    package static func authorize(certificate: PeerCertificate, grant: ClientGrant?, endpoint: String?) -> Result<
        Void, RefusalReason
    > {
        guard let grant, isIdentity(of: certificate, grant.clientID) else { return .failure(.unknownClient) }
        guard grant.enabled else { return .failure(.clientDisabled) }
        if let endpoint, !grant.grants(endpoint: endpoint) { return .failure(.endpointNotGranted) }
        guard grant.allowsLeaf(sha256: certificate.sha256) else { return .failure(.pinMismatch) }
        guard grant.allowsIssuer(sha256: certificate.issuerCertificateSHA256) else {
            return .failure(.issuerMismatch)
        }
        return .success(())
    }

    /// Whether `clientID` is the certificate's one CN (byte-for-byte, as SPEC compares identities).
    private static func isIdentity(of certificate: PeerCertificate, _ clientID: String) -> Bool {
        certificate.commonNames.count == 1 && !certificate.cnContainsNUL
            && UTF8Scalars.sameBytes(certificate.commonNames[0], clientID)
    }

    /// The same decision as `authorize`, as one `explain` step per rule: `registered`, `enabled`, `endpoint`
    /// (only with an endpoint), `pin`, `issuer`. Stops after `registered` fails (there is no row to check).
    package static func explainSteps(certificate: PeerCertificate, grant: ClientGrant?, endpoint: String?)
        -> [ExplainStep]
    {
        guard let grant, isIdentity(of: certificate, grant.clientID) else {
            return [.fail("registered", .unknownClient, "no client with this id is registered")]
        }
        var steps: [ExplainStep] = [.pass("registered", "client \(grant.clientID)")]
        steps.append(grant.enabled ? .pass("enabled") : .fail("enabled", .clientDisabled, "the client is disabled"))
        if let endpoint {
            let granted = grant.endpoints.isEmpty ? "none" : grant.endpoints.joined(separator: ",")
            steps.append(
                grant.grants(endpoint: endpoint)
                    ? .pass("endpoint", "\(endpoint) granted")
                    : .fail("endpoint", .endpointNotGranted, "\(endpoint) is not among the grants: \(granted)"))
        }
        if grant.pinsSHA256.isEmpty {
            steps.append(.pass("pin", "no pins"))
        } else {
            steps.append(
                grant.allowsLeaf(sha256: certificate.sha256)
                    ? .pass("pin", "sha256 \(certificate.sha256) is pinned")
                    : .fail(
                        "pin", .pinMismatch,
                        "sha256 \(certificate.sha256) is not among \(grant.pinsSHA256.count) pin(s)"))
        }
        if grant.issuersSHA256.isEmpty {
            steps.append(.pass("issuer", "any configured CA"))
        } else if grant.allowsIssuer(sha256: certificate.issuerCertificateSHA256) {
            steps.append(.pass("issuer", "issuer sha256 \(certificate.issuerCertificateSHA256 ?? "") is allowed"))
        } else {
            let issuer = certificate.issuerCertificateSHA256.map { "issuer sha256 \($0)" } ?? "the issuer is unknown"
            steps.append(
                .fail("issuer", .issuerMismatch, "\(issuer); not among \(grant.issuersSHA256.count) issuer(s)"))
        }
        return steps
    }
}

// MARK: - Authorization reason codes

extension RefusalReason {
    /// The client is over its `rate_per_second` (429).
    package static let rateLimited = RefusalReason(code: "rate_limited")
    /// The client has `max_connections` open already (429, then the connection closes).
    package static let tooManyConnections = RefusalReason(code: "too_many_connections")
    /// The CN is not a registered client.
    package static let unknownClient = RefusalReason(code: "unknown_client")
    /// The client is registered but disabled.
    package static let clientDisabled = RefusalReason(code: "client_disabled")
    /// The client is not granted the requested endpoint.
    package static let endpointNotGranted = RefusalReason(code: "endpoint_not_granted")
    /// The leaf's SHA-256 is not one of the client's pins.
    package static let pinMismatch = RefusalReason(code: "pin_mismatch")
    /// The issuing CA's SHA-256 is not one of the client's issuers.
    package static let issuerMismatch = RefusalReason(code: "issuer_mismatch")

    /// Every SPEC reason code, in SPEC order: TLS's, then authorization's.
    package static let all: [RefusalReason] =
        handshakeAndIdentity + [
            .unknownClient, .clientDisabled, .endpointNotGranted, .pinMismatch, .issuerMismatch, .rateLimited,
            .tooManyConnections, .signatureMissing, .signatureInvalid, .signatureExpired,
        ]
}

extension CertificateExplanation {
    /// Adds the registry steps for the client's row (`nil` = not registered), as the receiver would decide.
    package mutating func authorize(grant: ClientGrant?, endpoint: String?) {
        guard let certificate else { return }
        addRegistrySteps(
            ClientAuthorizationPolicy.explainSteps(certificate: certificate, grant: grant, endpoint: endpoint),
            endpoints: grant?.endpoints)
    }
}
