import Foundation
import Operations
import Postgres
import Receiver
import TLS
import TestSupport
import Testing

/// Refusals against the real `webhookd serve`: what the client sees (alert or 403), the log line with the reason
/// code, and the `rejections` row.
@Suite("Refusals end to end", .serialized)
struct RefusalTests {
    let pki = TestPKI.shared

    // MARK: - Handshake refusals

    /// A client certificate the handshake refuses, with the CRLs the server runs with and the alert OpenSSL sends.
    enum HandshakeRefusal: String, CaseIterable, Sendable {
        case noCertificate = "no_certificate"
        case unknownIssuer = "unknown_issuer"
        case expired = "expired"
        case notYetValid = "not_yet_valid"
        case badKeyUsage = "bad_key_usage"
        case chainTooDeep = "chain_too_deep"
        case revoked = "revoked"
        case crlStale = "crl_stale"

        func files(_ pki: TestPKI) -> TestSupportClientFiles? {
            switch self {
            case .noCertificate: nil
            case .unknownIssuer: pki.untrustedClient
            case .expired: pki.expiredClient
            case .notYetValid: pki.notYetValidClient
            case .badKeyUsage: pki.serverAuthOnlyClient
            case .chainTooDeep: pki.tooDeepClient
            case .revoked: pki.revokedClient
            case .crlStale: pki.validClient
            }
        }

        func crls(_ pki: TestPKI) -> [String] {
            switch self {
            case .revoked: [pki.rootCRLRevoking]
            case .crlStale: [pki.rootCRLStale]
            default: []
            }
        }

        /// SPEC: "Alerts are the ones OpenSSL sends for each verify error" (as the OpenSSL client reports them;
        /// the client negotiates TLS 1.3).
        var alert: String {
            switch self {
            case .noCertificate: "tlsv13 alert certificate required"
            case .unknownIssuer, .chainTooDeep: "tlsv1 alert unknown ca"
            case .expired: "sslv3 alert certificate expired"
            case .notYetValid: "sslv3 alert bad certificate"
            case .badKeyUsage: "sslv3 alert unsupported certificate"
            case .revoked: "sslv3 alert certificate revoked"
            case .crlStale: "sslv3 alert certificate expired"
            }
        }
    }

    @Test(arguments: HandshakeRefusal.allCases)
    func refusedCertificateFailsTheHandshakeWithReasonLogAndRejectionRow(refusal: HandshakeRefusal) throws {
        let harness = try ReceiverHarness(crls: refusal.crls(pki))
        let files = refusal.files(pki)
        let (outcome, _) = try harness.attempt(files, ReceiverHarness.request("POST", "/webhooks/orders", body: [1]))
        let failure = try #require(outcome.failure, "\(refusal): got an HTTP answer")
        #expect(failure.alertText == refusal.alert, "\(failure)")

        let fingerprint = try files.map { try OpenSSLFacts(certificate: $0.certificatePath).sha256 }
        let line = try harness.waitForLog("refused", "reason=\(refusal.rawValue) ")
        #expect(line.contains("stage=handshake"))
        #expect(line.contains("peer=127.0.0.1"))
        if let fingerprint { #expect(line.contains("sha256=\(fingerprint)"), "\(line)") }

        #expect(try ReceiverHarness.eventually { try !harness.rejections().isEmpty })
        let rows = try harness.rejections()
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row.stage == "handshake")
        #expect(row.reason == refusal.rawValue)
        #expect(row.certSHA256 == fingerprint)
        #expect(row.remoteAddress == "127.0.0.1")
        #expect(row.endpoint == nil)
        #expect(try harness.deliveryCount() == 0)

        if refusal == .revoked {
            // The root has a CRL, so a certificate it does not list is still accepted.
            let valid = try harness.post("/webhooks/orders", body: Array("ok".utf8), as: pki.validClient)
            #expect(valid.status == 200, "\(valid.bodyText)")
        }
    }

    @Test func plainHTTPOnTheTLSPortGetsNoHTTPAnswerAndNoRejectionRow() throws {
        let harness = try ReceiverHarness()
        let fd = try TestSupportSocket.connectToLoopback(port: harness.port)
        defer { close(fd) }
        try TestSupportSocket.writeAll(
            fd, Array("POST /webhooks/orders HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi".utf8))
        var received: [UInt8] = []
        var closed = false
        let deadline = ContinuousClock.now + .seconds(10)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !closed && ContinuousClock.now < deadline {
            guard TestSupportSocket.wait(fd, timeoutMilliseconds: 200) else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { received += buffer[0..<count] } else { closed = true }  // EOF or reset
        }
        #expect(closed, "the server kept the connection open")
        #expect(!String(decoding: received, as: UTF8.self).contains("HTTP/"))
        // Counted and logged in aggregate (one line per interval), never one line per connection.
        for _ in 0..<30 {
            let flood = try TestSupportSocket.connectToLoopback(port: harness.port)
            try? TestSupportSocket.writeAll(flood, Array("GET / HTTP/1.1\r\n\r\n".utf8))
            close(flood)
        }
        let line = try harness.waitForLog("handshakes failed without a client certificate", timeout: .seconds(20))
        #expect(line.contains("handshake_failed="))
        #expect(harness.logLines("handshakes failed without a client certificate").count == 1)

        // A stored refusal after it: once its row is there, a row for the plain HTTP attempt would be too.
        let (marker, _) = try harness.attempt(nil, ReceiverHarness.request("POST", "/webhooks/orders"))
        #expect(marker.failure != nil)
        #expect(try ReceiverHarness.eventually { try !harness.rejections().isEmpty })
        #expect(try harness.rejections().map(\.reason) == ["no_certificate"])
    }

    // MARK: - Authorization refusals

    /// One request in the authorization table: who sends it, where, and what must come back.
    struct AuthorizationCase {
        var name: String
        var certificate: String
        var chain: String
        var key: String
        var endpoint: String
        /// nil: 200; otherwise the reason code of the 403.
        var refusal: String?
        /// The client id the rejection row carries (the CN when there is exactly one).
        var clientID: String?
    }

    @Test func authorizationRefusalsAre403WithRejectionRowAndClosedConnection() throws {
        let database = try TestDatabase.create()
        let stranger = try pki.makeClient(cn: "stranger")
        let disabled = try pki.makeClient(cn: "disabled-co")
        let pinned = try pki.makeClient(cn: "pinned-co")
        let pinnedOK = try pki.makeClient(cn: "pinned-ok")
        let star = try pki.makeClient(cn: "star-co")
        let secondCAFingerprint = try OpenSSLFacts(certificate: pki.secondCA).sha256
        do {
            let connection = try database.connect()
            defer { connection.close() }
            let registry = ClientRegistry(connection: connection)
            _ = try registry.add(
                clientID: "acme", endpoints: ["orders"], description: "", pins: [], issuers: [secondCAFingerprint])
            _ = try registry.add(clientID: "disabled-co", endpoints: ["orders"], description: "", pins: [], issuers: [])
            try registry.setEnabled("disabled-co", false)
            _ = try registry.add(
                clientID: "pinned-co", endpoints: ["orders"], description: "",
                pins: [try OpenSSLFacts(certificate: pki.validClient.certificatePath).sha256], issuers: [])
            _ = try registry.add(
                clientID: "pinned-ok", endpoints: ["orders"], description: "",
                pins: [try OpenSSLFacts(certificate: pinnedOK.certPath).sha256], issuers: [])
            _ = try registry.add(clientID: "star-co", endpoints: ["*"], description: "", pins: [], issuers: [])
        }
        let harness = try ReceiverHarness(clients: [:], database: database)

        typealias Files = (certPath: String, keyPath: String)
        func made(_ name: String, _ files: Files, _ endpoint: String, _ refusal: String?) -> AuthorizationCase {
            AuthorizationCase(
                name: name, certificate: files.certPath, chain: files.certPath, key: files.keyPath, endpoint: endpoint,
                refusal: refusal, clientID: String(name.prefix { $0 != " " }))
        }
        func shared(_ name: String, _ files: TestSupportClientFiles, _ endpoint: String, _ refusal: String?)
            -> AuthorizationCase
        {
            let id: String? = ["no_cn", "ambiguous_cn"].contains(refusal) ? nil : "acme"
            return AuthorizationCase(
                name: name, certificate: files.certificatePath, chain: files.chainPath, key: files.keyPath,
                endpoint: endpoint, refusal: refusal, clientID: id)
        }
        let cases = [
            made("stranger", stranger, "orders", "unknown_client"),
            made("disabled-co", disabled, "orders", "client_disabled"),
            shared("acme on an endpoint it lacks", pki.secondCAClient, "billing", "endpoint_not_granted"),
            made("pinned-co with another certificate's pin", pinned, "orders", "pin_mismatch"),
            made("pinned-ok with its own pin", pinnedOK, "orders", nil),
            shared("acme from the root, pinned to the second CA", pki.validClient, "orders", "issuer_mismatch"),
            shared("acme from the second CA", pki.secondCAClient, "orders", nil),
            shared("no CN", pki.noCNClient, "orders", "no_cn"),
            shared("two CNs", pki.twoCNClient, "orders", "ambiguous_cn"),
            shared("CN=a+CN=b", pki.multiValuedCNClient, "orders", "ambiguous_cn"),
            made("star-co on orders", star, "orders", nil),
            made("star-co on any endpoint", star, "anything-at-all", nil),
        ]

        var acceptedIDs: Set<String> = []
        for item in cases {
            let (outcome, client) = try harness.attempt(
                chain: item.chain, key: item.key,
                ReceiverHarness.request("POST", "/webhooks/\(item.endpoint)", body: Array(item.name.utf8)))
            let response = try #require(outcome.response, "\(item.name): \(String(describing: outcome.failure))")
            guard let refusal = item.refusal else {
                #expect(response.status == 200, "\(item.name): \(response.bodyText)")
                if let answer = deliveryAnswer(response) { acceptedIDs.insert(answer.id) }
                continue
            }
            #expect(response.status == 403, "\(item.name): \(response.status) \(response.bodyText)")
            #expect(errorBody(response) != nil, "\(item.name): \(response.bodyText)")
            #expect(response.header("Connection") == "close", "\(item.name)")
            #expect(connectionIsClosed(client), "\(item.name): the connection stayed open after 403")
            let line = try harness.waitForLog("refused", "reason=\(refusal) ", "endpoint=\(item.endpoint)")
            #expect(line.contains("stage=authorization"), "\(line)")
        }

        let refused = cases.filter { $0.refusal != nil }
        #expect(try ReceiverHarness.eventually { try harness.rejections().count >= refused.count })
        let rows = try harness.rejections()
        #expect(rows.count == refused.count)
        for (item, row) in zip(refused, rows) {
            #expect(row.stage == "authorization", "\(item.name)")
            #expect(row.reason == item.refusal, "\(item.name)")
            #expect(row.endpoint == item.endpoint, "\(item.name)")
            #expect(row.clientID == item.clientID, "\(item.name)")
            #expect(row.certSHA256 == (try OpenSSLFacts(certificate: item.certificate).sha256), "\(item.name)")
            #expect(row.remoteAddress == "127.0.0.1", "\(item.name)")
        }
        // Only the accepted requests were stored; a refused body never is.
        let stored = try harness.query("SELECT id::text, convert_from(body, 'UTF8') FROM deliveries")
        #expect(stored.rowCount == cases.count - refused.count)
        #expect(Set((0..<stored.rowCount).compactMap { stored.string($0, 0) }) == acceptedIDs)
        let storedBodies = Set((0..<stored.rowCount).compactMap { stored.string($0, 1) })
        #expect(storedBodies == Set(cases.filter { $0.refusal == nil }.map(\.name)))
    }

    // MARK: - Registry changes on a running server

    @Test func registryChangesReachNewAndOpenKeepAliveConnectionsWithinASecondAndAHalf() throws {
        let database = try TestDatabase.create()
        do {
            let connection = try database.connect()
            defer { connection.close() }
            let registry = ClientRegistry(connection: connection)
            _ = try registry.add(clientID: "acme", endpoints: ["orders"], description: "", pins: [], issuers: [])
            try registry.setEnabled("acme", false)
        }
        let harness = try ReceiverHarness(clients: [:], database: database)
        func status(_ endpoint: String) throws -> Int {
            try harness.post("/webhooks/\(endpoint)", body: Array("poll".utf8), as: pki.validClient).status
        }
        let request = { (endpoint: String) in
            ReceiverHarness.request("POST", "/webhooks/\(endpoint)", body: Array("kept".utf8))
        }
        #expect(try status("orders") == 403)

        // Opened while acme is disabled; its first request comes after the change.
        let kept = try harness.client(pki.validClient)
        try harness.withRegistry { try $0.setEnabled("acme", true) }
        #expect(try ReceiverHarness.eventually(timeout: .seconds(1.5)) { try status("orders") == 200 })
        try kept.send(request("orders"))
        #expect(try kept.readHTTPResponse(timeout: 10).status == 200)

        // A grant through the registry reaches the open connection's next request.
        #expect(try status("invoices") == 403)
        try harness.withRegistry { try $0.grant("acme", endpoint: "invoices") }
        #expect(try ReceiverHarness.eventually(timeout: .seconds(1.5)) { try status("invoices") == 200 })
        try kept.send(request("invoices"))
        #expect(try kept.readHTTPResponse(timeout: 10).status == 200)

        // The same through the real CLI.
        #expect(try status("billing") == 403)
        let grant = try TestSupportProcess.runWebhookd([
            "clients", "grant", "acme", "billing", "--database-url", database.url,
        ])
        #expect(grant.status == 0, "\(grant.stderr)")
        #expect(try ReceiverHarness.eventually(timeout: .seconds(1.5)) { try status("billing") == 200 })
        try kept.send(request("billing"))
        #expect(try kept.readHTTPResponse(timeout: 10).status == 200)

        // Disabling refuses the next request on the open connection, which then closes.
        try harness.withRegistry { try $0.setEnabled("acme", false) }
        #expect(try ReceiverHarness.eventually(timeout: .seconds(1.5)) { try status("orders") == 403 })
        try kept.send(request("orders"))
        let refused = try kept.readHTTPResponse(timeout: 10)
        #expect(refused.status == 403)
        #expect(connectionIsClosed(kept))
        try harness.waitForLog("refused", "reason=client_disabled")
        let keptRows = try harness.query(
            "SELECT count(*) FROM deliveries WHERE body = $1", [.bytes(Array("kept".utf8))])
        #expect(keptRows.string(0, 0) == "3")
    }

    // MARK: - Rejection rate limit

    @Test func refusalsOverTheRateAreLoggedInAggregateNotStored() throws {
        let harness = try ReceiverHarness(extraArguments: ["--rejections-per-second", "5"])
        let stranger = try pki.makeClient(cn: "stranger")
        let started = ContinuousClock.now
        var statuses: [Int] = []
        for index in 0..<40 {
            let (outcome, _) = try harness.attempt(
                chain: stranger.certPath, key: stranger.keyPath,
                ReceiverHarness.request("POST", "/webhooks/orders", body: Array("n=\(index)".utf8)))
            statuses.append(outcome.response?.status ?? 0)
        }
        let elapsed = ContinuousClock.now - started
        #expect(statuses == Array(repeating: 403, count: 40))

        // SPEC: within the rate a refusal is logged and stored; beyond it, counted in an aggregate line only.
        func aggregated() -> Int {
            harness.logLines("not stored").reduce(0) { total, line in
                guard let range = line.range(of: "count=") else { return total }
                return total + (Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0)
            }
        }
        #expect(try ReceiverHarness.eventually { try harness.rejections().count + aggregated() == 40 })
        #expect(harness.logLines("refused", "reason=unknown_client").count == (try harness.rejections().count))
        #expect(!harness.logLines("not stored", "limit=5").isEmpty)
        let stored = try harness.rejections().count
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        #expect(stored >= 5, "the bucket starts full")
        #expect(stored <= 5 + Int((seconds * 5).rounded(.up)) + 2, "\(stored) rows in \(elapsed)")
        #expect(try harness.deliveryCount() == 0)
    }
}
