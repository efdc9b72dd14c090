/// One line of `webhookd certs explain`: `step: pass|fail|skipped (detail)`.
package struct ExplainStep: Sendable, Hashable {
    /// How a step ended.
    package enum Status: String, Sendable, Hashable {
        /// The check passed.
        case pass
        /// The check failed: the server would refuse.
        case fail
        /// The check could not run (no database).
        case skipped
    }

    /// The step's name: `parse`, `chain`, `identity`, `registered`, `enabled`, `endpoint`, `pin`, `issuer`,
    /// `registry`.
    package let name: String
    /// How it ended.
    package let status: Status
    /// The SPEC reason code of a failure (`nil` for `parse`, which has none).
    package let reason: RefusalReason?
    /// What was found, for a person.
    package let detail: String?

    /// A passed step.
    package static func pass(_ name: String, _ detail: String? = nil) -> ExplainStep {
        ExplainStep(name: name, status: .pass, reason: nil, detail: detail)
    }

    /// A failed step.
    package static func fail(_ name: String, _ reason: RefusalReason?, _ detail: String) -> ExplainStep {
        ExplainStep(name: name, status: .fail, reason: reason, detail: detail)
    }

    /// The output line, e.g. `chain: fail (unknown_issuer: unable to get local issuer certificate)`.
    package var line: String {
        let text = [reason?.code, detail].compactMap { $0 }.joined(separator: ": ")
        return text.isEmpty ? "\(name): \(status.rawValue)" : "\(name): \(status.rawValue) (\(text))"
    }
}

/// `webhookd certs explain`: the server's own checks run offline on a certificate file, one step at a time.
///
/// `verify` runs the TLS part exactly as the handshake would (`ClientTrustStore`, built by the same loaders
/// as `TLSContext`); the caller then adds the registry part with `authorize(grant:endpoint:)` (Receiver) or
/// `skipRegistry(_:)`.
package struct CertificateExplanation: Sendable {
    /// The steps so far, in order.
    package private(set) var steps: [ExplainStep]
    /// The leaf's facts, with the issuer fingerprint from the verified chain; `nil` when the file did not parse.
    package let certificate: PeerCertificate?
    /// The identity (the one CN) when the identity step passed; look the client up by this.
    package let clientID: String?
    /// Findings about the trust files that are not errors (stale CRL, skipped non-CA certificates).
    package let warnings: [String]
    /// The endpoints of the registry row that was checked; `nil` until `addRegistrySteps` ran.
    package private(set) var grantedEndpoints: [String]?

    /// Runs `parse`, `chain` and `identity` on `path` (PEM leaf first with any intermediates, DER or PKCS#12
    /// without passphrase) against the trust a server with these flags would have.
    /// - Throws: `TLSError` (`.configuration`, exit 64) when `--client-ca`, `--crl` or `--verify-depth` would
    ///   stop the server from starting. A certificate that cannot be read is a failed `parse` step, not an error.
    /// > Warning: Blocking file I/O.
    package static func verify(path: String, clientCAPath: String, crlPaths: [String] = [], verifyDepth: Int = 4)
        throws(TLSError) -> CertificateExplanation
    {
        try TLSContext.validateVerifyDepth(verifyDepth)
        var warnings: [String] = []
        let authorities = try TLSContext.loadCertificateAuthorities(clientCAPath, warnings: &warnings)
        let lists = try TLSContext.loadRevocationLists(
            crlPaths, authorities: authorities, now: currentUnixTime(), warnings: &warnings)
        let store = try ClientTrustStore(authorities: authorities, revocationLists: lists, verifyDepth: verifyDepth)

        let certificates: [Certificate]
        do {
            certificates = try CertificateFile.load(path, passphrase: nil)
        } catch {
            return CertificateExplanation(
                steps: [.fail("parse", nil, error.message)], certificate: nil, clientID: nil, warnings: warnings)
        }
        guard let leaf = certificates.first else {
            return CertificateExplanation(
                steps: [.fail("parse", nil, "\(path) holds no certificate")], certificate: nil, clientID: nil,
                warnings: warnings)
        }
        let intermediates = Array(certificates.dropFirst())
        var steps: [ExplainStep] = []
        let plain = leaf.facts
        let extra = intermediates.isEmpty ? "" : ", with \(intermediates.count) more certificate(s) as chain"
        steps.append(.pass("parse", "\(plain.subject), serial \(plain.serialHex), sha256 \(plain.sha256)\(extra)"))

        let verification = try store.verify(
            leaf: leaf, untrustedChain: intermediates, securityLevel: ClientTrustStore.serverSecurityLevel())
        if let refusal = verification.refusal {
            steps.append(
                .fail(
                    "chain", refusal,
                    "\(verification.verifyResultText) (X509 verify error \(verification.verifyResult))"))
        } else {
            steps.append(.pass("chain", "issued by \(plain.issuer)"))
        }
        let facts = PeerCertificate(
            subject: plain.subject, issuer: plain.issuer, serialHex: plain.serialHex, sha256: plain.sha256,
            notBefore: plain.notBefore, notAfter: plain.notAfter, commonNames: plain.commonNames,
            cnContainsNUL: plain.cnContainsNUL, issuerCertificateSHA256: verification.issuerCertificateSHA256,
            isCA: plain.isCA)
        var clientID: String? = nil
        switch facts.identity {
        case .success(let name):
            clientID = name
            steps.append(.pass("identity", "CN=\(name)"))
        case .failure(let reason):
            let detail =
                reason == .ambiguousCN
                ? "the subject has \(facts.commonNames.count) CNs" : "the subject has no usable CN"
            steps.append(.fail("identity", reason, detail))
        }
        return CertificateExplanation(steps: steps, certificate: facts, clientID: clientID, warnings: warnings)
    }

    private init(steps: [ExplainStep], certificate: PeerCertificate?, clientID: String?, warnings: [String]) {
        self.steps = steps
        self.certificate = certificate
        self.clientID = clientID
        self.warnings = warnings
    }

    /// Adds the registry steps the authorization policy produced for the client's row; `endpoints` are that
    /// row's grants (`nil` when there is no row). TLS knows nothing of the registry: the receiver's
    /// authorization decides these steps.
    package mutating func addRegistrySteps(_ registrySteps: [ExplainStep], endpoints: [String]?) {
        guard certificate != nil else { return }
        grantedEndpoints = endpoints
        steps += registrySteps
    }

    /// Records that the registry could not be consulted, e.g. `no database: connection refused`.
    package mutating func skipRegistry(_ reason: String) {
        steps.append(ExplainStep(name: "registry", status: .skipped, reason: nil, detail: reason))
    }

    /// The first failed step, if any.
    package var firstFailure: ExplainStep? {
        steps.first { $0.status == .fail }
    }

    /// SPEC: `explain` exits 0 when no step fails (accepted, and authorized when the registry was checked).
    package var isAccepted: Bool {
        firstFailure == nil
    }

    /// The final line: `result: accepted as client X on endpoints a,b` or `result: refused (reason)`.
    package var resultLine: String {
        if let failure = firstFailure {
            return "result: refused (\(failure.reason?.code ?? "the certificate cannot be read"))"
        }
        let name = clientID ?? ""
        guard let endpoints = grantedEndpoints else {
            return "result: accepted as client \(name) by the TLS checks; authorization not checked (no registry)"
        }
        if endpoints.contains("*") { return "result: accepted as client \(name) on every endpoint (*)" }
        if endpoints.isEmpty { return "result: accepted as client \(name) on no endpoints (none granted)" }
        return "result: accepted as client \(name) on endpoints \(endpoints.joined(separator: ","))"
    }

    /// Every output line: the steps, then the result.
    package var lines: [String] {
        steps.map(\.line) + [resultLine]
    }
}
