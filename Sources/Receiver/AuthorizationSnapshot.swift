import Synchronization
package import TLS

/// What the registry says about one client, as authorization needs it.
package struct ClientGrant: Sendable, Equatable {
    package var clientID: String
    package var enabled: Bool
    package var endpoints: [String]
    package var pinsSHA256: [String]
    package var issuersSHA256: [String]

    package init(clientID: String, enabled: Bool, endpoints: [String], pinsSHA256: [String], issuersSHA256: [String]) {
        self.clientID = clientID
        self.enabled = enabled
        self.endpoints = endpoints
        self.pinsSHA256 = pinsSHA256
        self.issuersSHA256 = issuersSHA256
    }

    /// True when `endpoint` is granted by name or by `*`.
    package func grants(_ endpoint: String) -> Bool {
        endpoints.contains(endpoint) || endpoints.contains("*")
    }
}

/// An immutable copy of the `clients` table, swapped whole when the registry changes
/// (ARCHITECTURE.md: "an immutable value swapped atomically").
package struct AuthorizationSnapshot: Sendable {
    package let grants: [String: ClientGrant]

    package init(grants: [String: ClientGrant] = [:]) {
        self.grants = grants
    }

    /// SPEC's authorization of one request, in SPEC's order: one CN (no_cn / ambiguous_cn), certificate
    /// still valid (a resumed session never outlives notAfter), registered (unknown_client), enabled
    /// (client_disabled), endpoint granted (endpoint_not_granted), pins (pin_mismatch), issuers
    /// (issuer_mismatch).
    /// - Returns: the client id, or the reason for the refusal.
    package func authorize(_ certificate: PeerCertificate, endpoint: String, now: Int64) -> Result<
        String, RefusalReason
    > {
        let clientID: String
        switch certificate.identity {
        case .success(let id): clientID = id
        case .failure(let reason): return .failure(reason)
        }
        if now > certificate.notAfter { return .failure(.expired) }
        if now < certificate.notBefore { return .failure(.notYetValid) }
        guard let grant = grants[clientID] else { return .failure(.unknownClient) }
        guard grant.enabled else { return .failure(.clientDisabled) }
        guard grant.grants(endpoint) else { return .failure(.endpointNotGranted) }
        if !grant.pinsSHA256.isEmpty && !grant.pinsSHA256.contains(certificate.sha256) {
            return .failure(.pinMismatch)
        }
        if !grant.issuersSHA256.isEmpty {
            guard let issuer = certificate.issuerCertificateSHA256, grant.issuersSHA256.contains(issuer) else {
                return .failure(.issuerMismatch)
            }
        }
        return .success(clientID)
    }
}

/// Holds the current snapshot; loops read it on every request, the registry watcher replaces it.
package final class AuthorizationState: Sendable {
    private let current = Mutex(AuthorizationSnapshot())

    package init() {}

    package var snapshot: AuthorizationSnapshot { current.withLock { $0 } }

    package func replace(with snapshot: AuthorizationSnapshot) {
        current.withLock { $0 = snapshot }
    }
}
