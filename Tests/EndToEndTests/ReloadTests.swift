import Foundation
import Postgres
import TLS
import TestSupport
import Testing

/// SIGHUP: new CRLs reach new handshakes and the next request of connections opened before the reload.
@Suite("Reload end to end", .serialized)
struct ReloadTests {
    /// A copy of `source` in a fresh directory, so the test can replace it under the server.
    static func copy(_ source: String, name: String) throws -> String {
        let path = try TestCluster.makeReachableDirectory() + "/" + name
        try FileManager.default.copyItem(atPath: source, toPath: path)
        return path
    }

    static func replace(_ path: String, with source: String) throws {
        let temporary = path + ".new"
        try? FileManager.default.removeItem(atPath: temporary)
        try FileManager.default.copyItem(atPath: source, toPath: temporary)
        _ = rename(temporary, path)
    }

    @Test func revocationAfterReloadRefusesTheOpenConnectionsNextRequestAndNewHandshakes() throws {
        let pki = TestPKI.shared
        let crl = try Self.copy(pki.rootCRLFresh, name: "root.crl")
        // revokedClient's CN is registered so that only revocation can refuse it.
        let cn = try #require(try PeerCertificate.load(path: pki.revokedClient.certificatePath).commonNames.first)
        var clients = ["acme": ["orders"]]
        clients[cn] = ["orders"]
        let harness = try ReceiverHarness(clients: clients, crls: [crl])
        let open = try harness.client(pki.revokedClient)
        try open.send(ReceiverHarness.request("POST", "/webhooks/orders", body: Array("before".utf8)))
        #expect(try open.readHTTPResponse(timeout: 10).status == 200)

        try Self.replace(crl, with: pki.rootCRLRevoking)
        harness.process.signal(SIGHUP)
        try harness.waitForLog("configuration reloaded")

        // The connection opened before the reload: its next request re-verifies → 403 revoked, then close.
        try open.send(ReceiverHarness.request("POST", "/webhooks/orders", body: Array("after".utf8)))
        let refused = try open.readHTTPResponse(timeout: 10)
        #expect(refused.status == 403)
        #expect(refused.bodyText.contains("\"revoked\""))
        #expect(throws: TLSTestClient.Failure.self) { _ = try open.receive(timeout: 5) }
        // A new handshake is refused outright.
        #expect(throws: (any Error).self) {
            let client = try harness.client(pki.revokedClient)
            try client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: [1]))
            _ = try client.readHTTPResponse(timeout: 5)
        }
        // The valid client still delivers on a new connection.
        #expect(try harness.post("/webhooks/orders", body: Array("valid".utf8)).status == 200)
        #expect(
            try ReceiverHarness.eventually {
                try harness.query(
                    "SELECT count(*) FROM rejections WHERE stage = 'authorization' AND reason = 'revoked' AND client_id = $1",
                    [.text(cn)]
                ).string(0, 0) == "1"
            })
        let bodies = try harness.query("SELECT convert_from(body, 'UTF8') FROM deliveries ORDER BY received_at")
        #expect((0..<bodies.rowCount).compactMap { bodies.string($0, 0) } == ["before", "valid"])
    }

    @Test func reloadWithABrokenCAFileKeepsThePreviousConfiguration() throws {
        let pki = TestPKI.shared
        let bundle = try Self.copy(pki.clientCABundle, name: "bundle.pem")
        let harness = try ReceiverHarness(extraArguments: ["--client-ca", bundle])
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: bundle))
        harness.process.signal(SIGHUP)
        let line = try harness.waitForLog("reload failed")
        #expect(line.contains(bundle))
        #expect(try harness.post("/webhooks/orders", body: [1]).status == 200)
        // A bundle holding only a leaf is refused the same way.
        try Self.replace(bundle, with: pki.leafOnlyBundle)
        harness.process.signal(SIGHUP)
        #expect(
            ReceiverHarness.eventually {
                harness.process.errorOutput.components(separatedBy: "reload failed").count == 3
            })
        #expect(try harness.post("/webhooks/orders", body: [2]).status == 200)
    }

    @Test func reloadWithAKeyThatDoesNotMatchTheCertificateKeepsThePreviousConfiguration() throws {
        let pki = TestPKI.shared
        let key = try Self.copy(pki.serverKey, name: "server.key")
        let harness = try ReceiverHarness(extraArguments: ["--key", key])
        // Another valid key: the pair no longer matches.
        try PrivateKey(generating: .ecdsaP256).pem().write(toFile: key, atomically: true, encoding: .utf8)
        harness.process.signal(SIGHUP)
        let line = try harness.waitForLog("reload failed")
        #expect(line.contains("does not match"), "\(line)")
        #expect(try harness.post("/webhooks/orders", body: [1]).status == 200)
    }

    @Test func staleCRLAtStartIsLoadedLoudlyAndRefusesItsClientsWithCRLStale() throws {
        let pki = TestPKI.shared
        let harness = try ReceiverHarness(crls: [pki.rootCRLStale])
        try harness.waitForLog("certificate expiry")
        #expect(throws: (any Error).self) {
            _ = try harness.post("/webhooks/orders", body: [1])
        }
        try harness.waitForLog("reason=crl_stale")
    }
}

@Suite("CRL freshness end to end", .serialized)
struct CRLFreshnessTests {
    @Test func aCRLThatGoesStaleRefusesTheNextRequestOnAnOpenConnection() throws {
        let pki = TestPKI.shared
        let now = Int64(Date().timeIntervalSince1970)
        let crl = try PKI.makeCRL(
            issuer: try #require(
                try Certificate.loadAll(pem: String(contentsOfFile: pki.rootCA, encoding: .utf8)).first),
            issuerKey: try PrivateKey(pemFile: pki.rootKey), revokedSerials: [], lastUpdate: now - 60,
            nextUpdate: now + 4)
        let path = try TestPKI.makeTemporaryDirectory(prefix: "webhookd-crl") + "/soon-stale.crl"
        try crl.write(toFile: path, atomically: true, encoding: .utf8)
        let harness = try ReceiverHarness(crls: [path])
        let client = try harness.client(pki.validClient)
        try client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: [1]))
        #expect(try client.readHTTPResponse(timeout: 10).status == 200)
        while Int64(Date().timeIntervalSince1970) <= now + 4 { usleep(200_000) }
        try client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: [2]))
        let refused = try client.readHTTPResponse(timeout: 10)
        #expect(refused.status == 403)
        #expect(errorBody(refused)?.error == "crl_stale")
        #expect(try harness.deliveryCount() == 1)
    }
}
