import Foundation
import Postgres
import TLS
import TestSupport
import Testing

/// Bytes from the network are kept exactly or refused: keys and header values are never replaced.
@Suite("Byte-exact headers end to end", .serialized)
struct ByteExactTests {
    /// A POST whose head carries `rawHeader` (a whole `Name: value` line, any bytes) verbatim.
    static func request(rawHeader: [UInt8], body: [UInt8] = Array("{}".utf8)) -> [UInt8] {
        Array("POST /webhooks/orders HTTP/1.1\r\nHost: localhost\r\n".utf8) + rawHeader + Array("\r\n".utf8)
            + Array("Content-Length: \(body.count)\r\n\r\n".utf8) + body
    }

    @Test func twoKeysThatDifferOnlyInANonUTF8ByteAreBoth400AndNothingIsStored() throws {
        let harness = try ReceiverHarness()
        for last: UInt8 in [0xFF, 0xFE] {
            let client = try harness.client(harness.pki.validClient)
            try client.send(Self.request(rawHeader: Array("Idempotency-Key: a".utf8) + [last]))
            let response = try client.readHTTPResponse(timeout: 10)
            #expect(response.status == 400)
            #expect(errorBody(response)?.error == "invalid_idempotency_key")
            #expect(connectionIsClosed(client))
        }
        #expect(try harness.deliveryCount() == 0)
        #expect(try harness.waitForLog("request refused", "invalid_idempotency_key").contains("Idempotency-Key"))
    }

    @Test func aRandom8KiBKeyIs400WhileANeighbourSentAtTheSameMomentIs200() throws {
        let harness = try ReceiverHarness()
        var generator = SystemRandomNumberGenerator()
        let key = String(
            (0..<8_192).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &generator)! })
        let bad = try harness.client(harness.pki.validClient)
        let good = try harness.client(harness.pki.validClient)
        try bad.send(ReceiverHarness.request("POST", "/webhooks/orders", body: [1], headers: [("webhook-id", key)]))
        try good.send(ReceiverHarness.request("POST", "/webhooks/orders", body: [2], headers: [("webhook-id", "ok-1")]))
        let refused = try bad.readHTTPResponse(timeout: 10)
        let stored = try good.readHTTPResponse(timeout: 10)
        #expect(refused.status == 400)
        #expect(errorBody(refused)?.error == "invalid_idempotency_key")
        #expect(errorBody(refused)?.message.contains("1024") == true)
        #expect(stored.status == 200)
        let rows = try harness.query("SELECT idempotency_key FROM deliveries")
        #expect(rows.rowCount == 1)
        #expect(rows.string(0, 0) == "ok-1")
    }

    @Test func aKeyWithATabIsRefusedAndA1024ByteKeyIsStoredExactly() throws {
        let harness = try ReceiverHarness()
        let tab = try harness.post("/webhooks/orders", body: [1], headers: [("webhook-id", "a\tb")])
        #expect(tab.status == 400)
        #expect(errorBody(tab)?.error == "invalid_idempotency_key")
        let exact = String(repeating: "é", count: 512)  // 1,024 bytes
        let answer = try #require(
            deliveryAnswer(try harness.post("/webhooks/orders", body: [2], headers: [("webhook-id", exact)])))
        let row = try harness.query("SELECT idempotency_key FROM deliveries WHERE id = $1", [.text(answer.id)])
        #expect(row.string(0, 0) == exact)
    }

    @Test func anotherHeaderThatIsNotUTF8Is400AndAValidUTF8OneIsStoredAsSent() throws {
        let harness = try ReceiverHarness()
        let client = try harness.client(harness.pki.validClient)
        try client.send(Self.request(rawHeader: Array("X-Name: caf".utf8) + [0xE9]))  // Latin-1 é
        let refused = try client.readHTTPResponse(timeout: 10)
        #expect(refused.status == 400)
        #expect(errorBody(refused)?.error == "bad_request")
        #expect(errorBody(refused)?.message.contains("X-Name") == true)
        let answer = try #require(
            deliveryAnswer(try harness.post("/webhooks/orders", body: [1], headers: [("X-Name", "café ☕")])))
        let row = try harness.query(
            "SELECT h->>1 FROM deliveries, jsonb_array_elements(headers) h WHERE id = $1 AND h->>0 = 'X-Name'",
            [.text(answer.id)])
        #expect(row.string(0, 0) == "café ☕")
        #expect(try harness.deliveryCount() == 1)
        // The refusal has its reason in the log, naming the header but not its value.
        let line = try harness.waitForLog("request refused", "bad_request")
        #expect(line.contains("X-Name"))
        #expect(!line.contains("caf"))
    }
}
