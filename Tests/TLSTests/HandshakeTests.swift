import Foundation
import TLS
import TestSupport
import Testing

@Suite("Handshakes over 127.0.0.1")
struct HandshakeTests {
    let pki = TLSTestHelpers.pki

    @Test(
        "valid client certificate completes and its facts match openssl x509",
        arguments: [TLSProtocolVersion.tls12, .tls13])
    func validClientCompletesWithFactsMatchingOpenSSL(version: TLSProtocolVersion) throws {
        let (server, client) = try TLSTestHelpers.attempt(
            pki.validClient, context: try TLSTestHelpers.serverContext(), maximumVersion: version)
        #expect(server.failure == nil)
        let response = try client.get()
        #expect(response.status == 200)
        #expect(response.bodyText == "acme")
        let peer = try #require(server.peer)
        let path = pki.validClient.certificatePath
        #expect(peer.sha256 == (try TLSTestHelpers.fingerprint(path)))
        #expect(
            peer.serialHex
                == TLSTestHelpers.value(try TLSTestHelpers.openssl(["x509", "-in", path, "-noout", "-serial"])))
        #expect(
            peer.subject
                == TLSTestHelpers.value(
                    try TLSTestHelpers.openssl(["x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253"])))
        #expect(
            peer.issuer
                == TLSTestHelpers.value(
                    try TLSTestHelpers.openssl(["x509", "-in", path, "-noout", "-issuer", "-nameopt", "RFC2253"])))
        #expect(peer.subject == "CN=acme,O=Example")
        #expect(peer.commonNames == ["acme"])
        #expect(peer.identity == .success("acme"))
        #expect(peer.issuerCertificateSHA256 == (try TLSTestHelpers.fingerprint(pki.rootCA)))
        #expect(server.protocolVersion == (version == .tls13 ? "TLSv1.3" : "TLSv1.2"))
        #expect(server.cipherName.hasPrefix(version == .tls13 ? "TLS_" : "ECDHE-"))
    }

    @Test(
        "refused certificates fail the handshake with the SPEC reason", arguments: [TLSProtocolVersion.tls12, .tls13])
    func refusedCertificatesFailWithReason(version: TLSProtocolVersion) throws {
        let context = try TLSTestHelpers.serverContext()
        let cases: [(TestSupportClientFiles, RefusalReason)] = [
            (pki.untrustedClient, .unknownIssuer),
            (pki.expiredClient, .expired),
            (pki.notYetValidClient, .notYetValid),
            (pki.serverAuthOnlyClient, .badKeyUsage),
            (pki.tooDeepClient, .chainTooDeep),
        ]
        for (files, reason) in cases {
            let (server, client) = try TLSTestHelpers.attempt(files, context: context, maximumVersion: version)
            let failure = try #require(server.failure, "\(files.certificatePath) was accepted")
            #expect(failure.reason == reason, "\(files.certificatePath): \(failure.detail)")
            #expect(failure.detail.contains("X509 verify error"))
            // SPEC: refusals of presented certificates log their facts.
            let presented = try #require(failure.peerCertificate)
            #expect(presented.sha256 == (try TLSTestHelpers.fingerprint(files.certificatePath)))
            #expect(presented.commonNames == ["acme"])
            guard case .failure(let seen) = client else {
                Issue.record("the client got an HTTP answer for \(reason)")
                continue
            }
            #expect(seen.alertText != nil, "\(reason): \(seen)")
        }
    }

    @Test("no client certificate fails with no_certificate", arguments: [TLSProtocolVersion.tls12, .tls13])
    func missingCertificateFailsWithNoCertificate(version: TLSProtocolVersion) throws {
        let (server, client) = try TLSTestHelpers.attempt(
            nil, context: try TLSTestHelpers.serverContext(), maximumVersion: version)
        let failure = try #require(server.failure)
        #expect(failure.reason == .noCertificate)
        #expect(failure.peerCertificate == nil)
        guard case .failure(let seen) = client else {
            Issue.record("client got an HTTP answer")
            return
        }
        if version == .tls13 {
            #expect(seen.alertText == "tlsv13 alert certificate required", "\(seen)")
        } else {
            #expect(seen.alertText == "sslv3 alert handshake failure")
        }
    }

    @Test func expiredClientSeesCertificateExpiredAlert() throws {
        let (_, client) = try TLSTestHelpers.attempt(
            pki.expiredClient, context: try TLSTestHelpers.serverContext(), maximumVersion: .tls13)
        guard case .failure(let seen) = client else {
            Issue.record("client got an HTTP answer")
            return
        }
        #expect(seen.alertText == "sslv3 alert certificate expired", "\(seen)")
    }

    @Test func chainOfFourIntermediatesIsAllowedAtDepthFour() throws {
        let (server, _) = try TLSTestHelpers.attempt(
            pki.deepestAllowedClient, context: try TLSTestHelpers.serverContext())
        #expect(server.failure == nil, "\(String(describing: server.failure))")
    }

    @Test func intermediateIssuedClientVerifiesAndPinsTheIntermediate() throws {
        let (server, client) = try TLSTestHelpers.attempt(
            pki.intermediateClient, context: try TLSTestHelpers.serverContext())
        #expect(server.failure == nil, "\(String(describing: server.failure))")
        #expect((try client.get()).status == 200)
        #expect(server.peer?.issuerCertificateSHA256 == (try TLSTestHelpers.fingerprint(pki.intermediateCA)))
    }

    @Test func sameCNFromSecondTrustedCAHasTheOtherIssuerFingerprint() throws {
        let (server, _) = try TLSTestHelpers.attempt(pki.secondCAClient, context: try TLSTestHelpers.serverContext())
        let peer = try #require(server.peer)
        #expect(peer.identity == .success("acme"))
        #expect(peer.issuerCertificateSHA256 == (try TLSTestHelpers.fingerprint(pki.secondCA)))
        #expect(peer.issuerCertificateSHA256 != (try TLSTestHelpers.fingerprint(pki.rootCA)))
    }

    @Test func twoCNsAndMultiValuedRDNAreAmbiguous() throws {
        let context = try TLSTestHelpers.serverContext()
        for files in [pki.twoCNClient, pki.multiValuedCNClient] {
            let (server, _) = try TLSTestHelpers.attempt(files, context: context)
            let peer = try #require(server.peer)
            #expect(peer.commonNames == ["a", "b"])
            #expect(peer.identity == .failure(.ambiguousCN))
        }
        let path = pki.multiValuedCNClient.certificatePath
        let multi = try PeerCertificate.load(path: path)
        let printed = try TLSTestHelpers.openssl(["x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253"])
        #expect(multi.subject == TLSTestHelpers.value(printed))
        #expect(multi.subject.contains("+"))
    }

    @Test func certificateWithoutCNHasNoIdentity() throws {
        let (server, _) = try TLSTestHelpers.attempt(pki.noCNClient, context: try TLSTestHelpers.serverContext())
        let peer = try #require(server.peer)
        #expect(peer.commonNames.isEmpty)
        #expect(peer.identity == .failure(.noCN))
    }

    @Test func revokedCertificateFailsWithRevoked() throws {
        let context = try TLSTestHelpers.serverContext(crls: [pki.rootCRLRevoking])
        let (server, client) = try TLSTestHelpers.attempt(pki.revokedClient, context: context, maximumVersion: .tls13)
        #expect(server.failure?.reason == .revoked)
        #expect(
            server.failure?.peerCertificate?.sha256
                == (try TLSTestHelpers.fingerprint(pki.revokedClient.certificatePath)))
        guard case .failure(let seen) = client else {
            Issue.record("client got an HTTP answer")
            return
        }
        #expect(seen.alertText == "sslv3 alert certificate revoked", "\(seen)")
        // The same CRL lets a certificate it does not list through.
        let (valid, _) = try TLSTestHelpers.attempt(pki.validClient, context: context)
        #expect(valid.failure == nil, "\(String(describing: valid.failure))")
    }

    @Test func staleCRLFailsWithCRLStaleAndIsLoadedWithAWarning() throws {
        let context = try TLSTestHelpers.serverContext(crls: [pki.rootCRLStale])
        #expect(context.warnings.contains { $0.contains("past its nextUpdate") && $0.contains(pki.rootCRLStale) })
        #expect(context.crlNextUpdates.count == 1)
        let (server, _) = try TLSTestHelpers.attempt(pki.validClient, context: context)
        #expect(server.failure?.reason == .crlStale)
    }

    @Test func issuerWithoutCRLFailsWithCRLMissingWhenAnyCRLIsConfigured() throws {
        let context = try TLSTestHelpers.serverContext(crls: [pki.rootCRLFresh])
        let (server, _) = try TLSTestHelpers.attempt(pki.secondCAClient, context: context)
        #expect(server.failure?.reason == .crlMissing)
        #expect(server.failure?.peerCertificate?.commonNames == ["acme"])
    }

    @Test func plainHTTPOnTheTLSPortIsHandshakeFailed() throws {
        let server = try TestSupportTLSServer(context: try TLSTestHelpers.serverContext())
        let fd = try TestSupportSocket.connectToLoopback(port: server.port)
        defer { close(fd) }
        try TestSupportSocket.writeAll(fd, Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let outcome = try #require(server.nextOutcome())
        #expect(outcome.failure?.reason == .handshakeFailed)
        #expect(outcome.failure?.peerCertificate == nil)
        #expect(outcome.failure?.detail == "http request")
    }

    @Test("resumed sessions keep the peer certificate and issuer", arguments: [TLSProtocolVersion.tls12, .tls13])
    func resumedSessionKeepsPeerAndIssuer(version: TLSProtocolVersion) throws {
        let server = try TestSupportTLSServer(context: try TLSTestHelpers.serverContext(), connections: 2)
        let files = pki.validClient
        let first = try TLSTestClient(
            port: server.port, certificateChainPath: files.chainPath, keyPath: files.keyPath,
            trustedCAPath: pki.rootCA, maximumVersion: version)
        #expect((try first.get()).status == 200)
        let session = try #require(first.connection.session)
        #expect(session.isResumable)
        let firstOutcome = try #require(server.nextOutcome())
        #expect(!firstOutcome.isSessionReused)

        let second = try TLSTestClient(
            port: server.port, certificateChainPath: files.chainPath, keyPath: files.keyPath,
            trustedCAPath: pki.rootCA, maximumVersion: version, resuming: session)
        #expect((try second.get()).status == 200)
        #expect(second.connection.isSessionReused)
        let outcome = try #require(server.nextOutcome())
        #expect(outcome.isSessionReused)
        #expect(outcome.peer == firstOutcome.peer)
        #expect(outcome.peer?.issuerCertificateSHA256 == (try TLSTestHelpers.fingerprint(pki.rootCA)))
    }
}
