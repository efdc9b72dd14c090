import Bytes
import Foundation
import Operations
import Postgres
import Receiver
import TestSupport
import Testing

/// Issue 12 end to end: the real `webhookd serve`, real TLS, real PostgreSQL; every signature computed by
/// `openssl mac` in the test, never by the code under test.
@Suite("Signatures end to end", .serialized)
struct SignatureTests {
    static let secret = Array("signing-secret-one".utf8)
    static let rotated = Array("signing-secret-two".utf8)
    static let body = Array(#"{"type":"invoice.paid"}"#.utf8)

    /// The headers that sign `body` under `key` with `scheme` at `timestamp`.
    static func signed(_ scheme: SignatureScheme, key: [UInt8], body: [UInt8], timestamp: Int64) throws
        -> [(String, String)]
    {
        switch scheme {
        case .standardWebhooks:
            // A fresh id each time: webhook-id is also the idempotency key, and a repeat would be a duplicate.
            let id = "msg_\(UUID().uuidString)"
            let mac = try OpenSSLHMAC.mac(key: key, message: Array("\(id).\(timestamp).".utf8) + body)
            return [
                ("webhook-id", id), ("webhook-timestamp", "\(timestamp)"),
                ("webhook-signature", "v1,\(Base64.encode(mac))"),
            ]
        case .github:
            return [("X-Hub-Signature-256", "sha256=\(try OpenSSLHMAC.hex(key: key, message: body))")]
        case .stripe:
            let hex = try OpenSSLHMAC.hex(key: key, message: Array("\(timestamp).".utf8) + body)
            return [("Stripe-Signature", "t=\(timestamp),v1=\(hex)")]
        }
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    /// (name, headers, expected status) for valid, invalid, missing and expired signatures.
    static func cases(_ scheme: SignatureScheme) throws -> [(SignatureStatus, [(String, String)])] {
        var result: [(SignatureStatus, [(String, String)])] = [
            (.valid, try signed(scheme, key: secret, body: body, timestamp: now)),
            (.invalid, try signed(scheme, key: Array("wrong".utf8), body: body, timestamp: now)),
            (.missing, []),
        ]
        if scheme != .github {
            result.append((.expired, try signed(scheme, key: secret, body: body, timestamp: now - 3_600)))
        }
        return result
    }

    func configure(_ harness: ReceiverHarness, _ scheme: SignatureScheme, _ mode: SignatureMode) throws {
        try harness.withRegistry { registry in
            _ = try registry.setSignature("acme", scheme: scheme, mode: mode, secrets: [Self.secret])
        }
        usleep(1_500_000)  // the change reaches the receiver within a second
    }

    @Test(arguments: SignatureScheme.allCases)
    func requiredModeStoresValidAndRefusesTheRestWith403(_ scheme: SignatureScheme) throws {
        let harness = try ReceiverHarness()
        try configure(harness, scheme, .required)
        for (status, headers) in try Self.cases(scheme) {
            let response = try harness.post("/webhooks/orders", body: Self.body, headers: headers)
            if status == .valid {
                #expect(response.status == 200, "\(scheme) \(status)")
            } else {
                #expect(response.status == 403, "\(scheme) \(status)")
                #expect(errorBody(response)?.error == "signature_\(status.rawValue)")
                #expect(errorBody(response)?.message.contains("signature") == true, "\(response.bodyText)")
                #expect(
                    try ReceiverHarness.eventually {
                        try harness.rejections().contains { $0.reason == "signature_\(status.rawValue)" }
                    })
            }
        }
        let stored = try harness.query("SELECT signature_status FROM deliveries")
        #expect(stored.rowCount == 1)
        #expect(stored.string(0, 0) == "valid")
    }

    @Test(arguments: SignatureScheme.allCases)
    func optionalModeStoresEveryRequestWithItsStatus(_ scheme: SignatureScheme) throws {
        let harness = try ReceiverHarness()
        try configure(harness, scheme, .optional)
        var expected: [String] = []
        for (status, headers) in try Self.cases(scheme) {
            let response = try harness.post("/webhooks/orders", body: Self.body, headers: headers)
            #expect(response.status == 200, "\(scheme) \(status)")
            expected.append(status.rawValue)
        }
        let stored = try harness.query("SELECT signature_status FROM deliveries ORDER BY received_at, id")
        #expect((0..<stored.rowCount).compactMap { stored.string($0, 0) } == expected)
    }

    @Test func eitherOfTwoRotatedSecretsMatchesAndOffStopsChecking() throws {
        let harness = try ReceiverHarness()
        try harness.withRegistry { registry in
            _ = try registry.setSignature(
                "acme", scheme: .github, mode: .required, secrets: [Self.secret, Self.rotated])
        }
        usleep(1_500_000)
        for key in [Self.secret, Self.rotated] {
            let headers = try Self.signed(.github, key: key, body: Self.body, timestamp: 0)
            #expect(try harness.post("/webhooks/orders", body: Self.body, headers: headers).status == 200)
        }
        #expect(try harness.post("/webhooks/orders", body: Self.body).status == 403)
        try harness.withRegistry { registry in
            let record = try registry.setSignature("acme", scheme: nil, mode: .required, secrets: [])
            #expect(record.signatureScheme == nil && record.signatureSecretCount == 0)
        }
        usleep(1_500_000)
        #expect(try harness.post("/webhooks/orders", body: Self.body).status == 200)
        let stored = try harness.query("SELECT count(*), count(signature_status) FROM deliveries")
        #expect(stored.string(0, 0) == "3" && stored.string(0, 1) == "2")
        #expect(try harness.query("SELECT count(*) FROM client_signature_secrets").string(0, 0) == "0")
    }

    @Test func readerRoleCannotSelectTheSecretsButTheRegistryShowsTheirCount() throws {
        let harness = try ReceiverHarness()
        try configure(harness, .stripe, .optional)
        let connection = try harness.connect()
        defer { connection.close() }
        try connection.query("SET ROLE webhookd_reader")
        #expect(throws: PostgresError.self) { try connection.query("SELECT secret FROM client_signature_secrets") }
        try connection.query("RESET ROLE")
        let record = try harness.withRegistry { try $0.show("acme") }
        #expect(record.signatureSecretCount == 1)
        let shown = record.detailLines.joined(separator: "\n") + record.jsonObject.pretty
        #expect(shown.contains("signature: stripe optional, 1 secret(s)"))
        #expect(!shown.contains("signing-secret-one"))
    }
}
