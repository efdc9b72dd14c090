import Foundation
import TLS
import TestSupport
import Testing

@Suite("webhookd certs explain")
struct CertsExplainTests {
    let pki = TLSTestHelpers.pki
    /// Nothing listens on port 1: the registry steps are skipped.
    static let unreachableDatabase = ["--database-url", "postgresql://127.0.0.1:1/webhookd?connect_timeout=2"]

    /// Runs `certs explain` on `file` with the test PKI's CA bundle and returns the outcome.
    func explain(_ file: String, _ extra: [String] = []) throws -> ProcessOutcome {
        try CertsCLI.webhookd(
            ["certs", "explain", file, "--client-ca", pki.clientCABundle] + extra + Self.unreachableDatabase,
            in: try CertsCLI.workingDirectory())
    }

    @Test func goodCertificatePassesChainAndIdentityAndSkipsTheRegistry() throws {
        let outcome = try explain(pki.validClient.certificatePath)
        #expect(outcome.status == 0, "\(outcome.stdout)\(outcome.stderr)")
        let fields = outcome.fields
        #expect(fields["parse"]?.hasPrefix("pass") == true)
        #expect(fields["chain"]?.hasPrefix("pass") == true)
        #expect(fields["identity"] == "pass (CN=acme)")
        #expect(fields["registry"]?.hasPrefix("skipped (no database:") == true)
        #expect(fields["result"]?.hasPrefix("accepted as client acme") == true)
    }

    @Test(
        "each refusal names the failing step and reason",
        arguments: [
            ("untrusted", "chain", "unknown_issuer"), ("expired", "chain", "expired"),
            ("not-yet-valid", "chain", "not_yet_valid"), ("server-auth-only", "chain", "bad_key_usage"),
            ("no-cn", "identity", "no_cn"), ("two-cn", "identity", "ambiguous_cn"),
            ("multi-cn", "identity", "ambiguous_cn"), ("too-deep", "chain", "chain_too_deep"),
        ])
    func refusalNamesTheFailingStep(name: String, step: String, reason: String) throws {
        let files = try #require(Self.files(pki)[name])
        let outcome = try explain(files.chainPath)
        #expect(outcome.status == 1, "\(outcome.stdout)")
        #expect(outcome.fields[step]?.hasPrefix("fail (\(reason)") == true, "\(outcome.stdout)")
        #expect(outcome.fields["result"] == "refused (\(reason))", "\(outcome.stdout)")
        #expect(outcome.stderr.isEmpty, "\(outcome.stderr)")
    }

    static func files(_ pki: TestPKI) -> [String: TestSupportClientFiles] {
        [
            "untrusted": pki.untrustedClient, "expired": pki.expiredClient, "not-yet-valid": pki.notYetValidClient,
            "server-auth-only": pki.serverAuthOnlyClient, "no-cn": pki.noCNClient, "two-cn": pki.twoCNClient,
            "multi-cn": pki.multiValuedCNClient, "too-deep": pki.tooDeepClient,
        ]
    }

    @Test func chainErrorsIncludeOpenSSLsVerifyText() throws {
        let outcome = try explain(pki.untrustedClient.certificatePath)
        #expect(outcome.fields["chain"]?.contains("unable to get local issuer certificate") == true)
    }

    @Test func revokedNeedsTheCRLAndCRLRulesMatchTheServer() throws {
        #expect(try explain(pki.revokedClient.certificatePath).status == 0)
        let revoked = try explain(pki.revokedClient.certificatePath, ["--crl", pki.rootCRLRevoking])
        #expect(revoked.status == 1)
        #expect(revoked.fields["chain"]?.hasPrefix("fail (revoked: certificate revoked") == true)
        let stale = try explain(pki.validClient.certificatePath, ["--crl", pki.rootCRLStale])
        #expect(stale.fields["chain"]?.hasPrefix("fail (crl_stale") == true)
        #expect(stale.stderr.contains("warning"))
        // The second CA has no CRL while one is configured: fail closed.
        let missing = try explain(pki.secondCAClient.certificatePath, ["--crl", pki.rootCRLFresh])
        #expect(missing.fields["chain"]?.hasPrefix("fail (crl_missing") == true)
    }

    @Test func intermediatesInTheFileAreUsedAsTheClientsChain() throws {
        #expect(try explain(pki.intermediateClient.chainPath).status == 0)
        #expect(try explain(pki.deepestAllowedClient.chainPath).status == 0)
        let leafOnly = try explain(pki.intermediateClient.certificatePath)
        #expect(leafOnly.fields["chain"]?.hasPrefix("fail (unknown_issuer") == true)
        let shallow = try explain(pki.deepestAllowedClient.chainPath, ["--verify-depth", "3"])
        #expect(shallow.fields["chain"]?.hasPrefix("fail (chain_too_deep") == true)
    }

    @Test func badTrustFlagsAreUsageErrorsAndBadFilesFailParse() throws {
        let work = try CertsCLI.workingDirectory()
        let noCA = try CertsCLI.webhookd(["certs", "explain", pki.validClient.certificatePath], in: work)
        #expect(noCA.status == 64 && noCA.stderr.contains("--client-ca"))
        let leafAsCA = try CertsCLI.webhookd(
            ["certs", "explain", pki.validClient.certificatePath, "--client-ca", pki.leafOnlyBundle], in: work)
        #expect(leafAsCA.status == 64 && leafAsCA.stderr.contains("holds no CA certificate"))
        let foreignCRL = try explain(pki.validClient.certificatePath, ["--crl", pki.untrustedCRL])
        #expect(foreignCRL.status == 64)
        let missing = try explain("\(work)/missing.pem")
        #expect(missing.status == 1)
        #expect(missing.fields["parse"]?.hasPrefix("fail (") == true)
        #expect(missing.fields["result"]?.hasPrefix("refused") == true)
    }

    @Test func defaultsToTheDevCAAndItsCRLInCerts() throws {
        let work = try CertsCLI.workingDirectory()
        let directory = CertsDirectory("\(work)/certs")
        _ = try DevPKI.initialize(directory: directory)
        let authority = try DevCertificateAuthority(directory: directory)
        _ = try authority.issueClient("alice")
        _ = try authority.issueClient("bob")
        _ = try authority.revoke(certificateFile: directory.clientCertificate("alice"))
        let arguments = ["certs", "explain"]
        let alice = try CertsCLI.webhookd(
            arguments + ["certs/clients/alice.crt"] + Self.unreachableDatabase, in: work)
        #expect(alice.status == 1)
        #expect(alice.fields["chain"]?.hasPrefix("fail (revoked") == true, "\(alice.stdout)\(alice.stderr)")
        // No database flag and no embedded cluster: skipped without creating one.
        let bob = try CertsCLI.webhookd(arguments + ["certs/clients/bob.crt"], in: work)
        #expect(bob.status == 0, "\(bob.stdout)\(bob.stderr)")
        #expect(bob.fields["registry"]?.contains("no embedded cluster") == true)
        #expect(!FileManager.default.fileExists(atPath: "\(work)/.webhookd"))
    }

    /// The offline verdict is the handshake's verdict: same store, same flags.
    @Test func libraryChainVerdictMatchesARealHandshake() throws {
        let cases: [(TestSupportClientFiles, [String])] = [
            (pki.validClient, []), (pki.untrustedClient, []), (pki.expiredClient, []),
            (pki.serverAuthOnlyClient, []), (pki.revokedClient, [pki.rootCRLRevoking]),
            (pki.secondCAClient, [pki.rootCRLFresh]), (pki.tooDeepClient, []), (pki.intermediateClient, []),
        ]
        for (files, crls) in cases {
            let explanation = try CertificateExplanation.verify(
                path: files.chainPath, clientCAPath: pki.clientCABundle, crlPaths: crls)
            let chain = try #require(explanation.steps.first { $0.name == "chain" })
            let (server, _) = try TLSTestHelpers.attempt(files, context: try TLSTestHelpers.serverContext(crls: crls))
            #expect(chain.reason == server.failure?.reason, "\(files.chainPath)")
            if server.failure == nil {
                #expect(explanation.certificate?.issuerCertificateSHA256 == server.peer?.issuerCertificateSHA256)
            }
        }
    }
}
