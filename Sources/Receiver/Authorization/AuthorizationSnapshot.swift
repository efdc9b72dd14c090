import Synchronization
package import TLS

/// An immutable copy of the `clients` table, swapped whole when the registry changes
/// (ARCHITECTURE.md: "an immutable value swapped atomically").
package struct AuthorizationSnapshot: Sendable {
    package let grants: [ClientKey: ClientGrant]
    /// When the database answered the read this snapshot came from; nil before the first read.
    package let readAt: ContinuousClock.Instant?

    package init(grants: [ClientKey: ClientGrant] = [:], readAt: ContinuousClock.Instant? = nil) {
        self.grants = grants
        self.readAt = readAt
    }

    /// True when the snapshot may still be used at `now`: read, and not longer ago than `maxAge`.
    package func isFresh(at now: ContinuousClock.Instant, maxAge: Duration) -> Bool {
        guard let readAt else { return false }
        return now - readAt <= maxAge
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
        // The rest is the one policy `webhookd certs explain` also runs.
        switch ClientAuthorizationPolicy.authorize(
            certificate: certificate, grant: grants[ClientKey(clientID)], endpoint: endpoint)
        {
        case .success: return .success(clientID)
        case .failure(let reason): return .failure(reason)
        }
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
