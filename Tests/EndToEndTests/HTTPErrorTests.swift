import Foundation
import Postgres
import TLS
import TestSupport
import Testing

/// HTTP-level answers of the real `webhookd serve`: exact status, JSON error body, and whether the connection
/// stays usable or closes.
@Suite("HTTP errors end to end", .serialized)
struct HTTPErrorTests {
    let pki = TestPKI.shared

    /// Sends `bytes` on a new connection of `validClient` and reads one answer.
    private func send(_ bytes: [UInt8], to harness: ReceiverHarness) throws -> (
        response: TLSTestClient.HTTPResponse, client: TLSTestClient
    ) {
        let (outcome, client) = try harness.attempt(pki.validClient, bytes)
        return (try outcome.get(), client)
    }

    /// Asserts the status and the JSON error body's `error` code.
    private func expectError(
        _ response: TLSTestClient.HTTPResponse, _ status: Int, _ code: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(response.status == status, "\(response.bodyText)", sourceLocation: sourceLocation)
        #expect(response.header("Content-Type") == "application/json", sourceLocation: sourceLocation)
        let body = errorBody(response)
        #expect(body?.error == code, "\(response.bodyText)", sourceLocation: sourceLocation)
    }

    @Test func unknownPathIs404AndTheConnectionStaysUsable() throws {
        let harness = try ReceiverHarness()
        let (response, client) = try send(
            ReceiverHarness.request("POST", "/not-a-webhook", body: Array("abc".utf8)), to: harness)
        expectError(response, 404, "not_found")
        #expect(response.header("Connection") == "keep-alive")
        try client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: Array("after 404".utf8)))
        let next = try client.readHTTPResponse(timeout: 10)
        #expect(next.status == 200, "\(next.bodyText)")
        #expect(deliveryAnswer(next) != nil)
        // Trailing slashes and bad endpoint names are other paths too (SPEC: no percent-decoding, no slash).
        for path in ["/webhooks/orders/", "/webhooks/", "/webhooks/or%64ers"] {
            try client.send(ReceiverHarness.request("POST", path, body: [1]))
            expectError(try client.readHTTPResponse(timeout: 10), 404, "not_found")
        }
        #expect(try harness.deliveryCount() == 1)
    }

    @Test func getOnAWebhookPathIs405WithAllowPOST() throws {
        let harness = try ReceiverHarness()
        let (response, client) = try send(
            ReceiverHarness.request("GET", "/webhooks/orders", contentLength: false), to: harness)
        expectError(response, 405, "method_not_allowed")
        #expect(response.header("Allow") == "POST")
        try client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: [1]))
        #expect(try client.readHTTPResponse(timeout: 10).status == 200)
    }

    @Test func postWithoutContentLengthOrChunkedIs411() throws {
        let harness = try ReceiverHarness()
        let (response, client) = try send(
            ReceiverHarness.request("POST", "/webhooks/orders", contentLength: false), to: harness)
        expectError(response, 411, "length_required")
        #expect(connectionIsClosed(client))
        #expect(try harness.deliveryCount() == 0)
    }

    @Test func contentLengthOverTheLimitIs413BeforeTheBodyIsSent() throws {
        let harness = try ReceiverHarness(extraArguments: ["--max-body-bytes", "1000"])
        // Only the head: the answer must come without the body.
        let head = Array("POST /webhooks/orders HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1001\r\n\r\n".utf8)
        let (response, client) = try send(head, to: harness)
        expectError(response, 413, "payload_too_large")
        #expect(connectionIsClosed(client))
        // Exactly the limit is fine.
        let fits = try harness.post("/webhooks/orders", body: [UInt8](repeating: 0x61, count: 1000))
        #expect(fits.status == 200)
        #expect(try harness.deliveryCount() == 1)
    }

    @Test func chunkedBodyGrowingOverTheLimitIs413() throws {
        let harness = try ReceiverHarness(extraArguments: ["--max-body-bytes", "1000"])
        let chunk = String(repeating: "x", count: 600)
        let request =
            "POST /webhooks/orders HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n"
        let (response, client) = try send(Array(request.utf8), to: harness)
        expectError(response, 413, "payload_too_large")
        #expect(connectionIsClosed(client))
        #expect(try harness.deliveryCount() == 0)
    }

    @Test func headOver16KiBIs431() throws {
        let harness = try ReceiverHarness()
        let request = ReceiverHarness.request(
            "POST", "/webhooks/orders", body: [1], headers: [("X-Big", String(repeating: "a", count: 17 * 1024))])
        let (response, client) = try send(request, to: harness)
        expectError(response, 431, "headers_too_large")
        #expect(connectionIsClosed(client))
        #expect(try harness.deliveryCount() == 0)
    }

    @Test func contentLengthWithTransferEncodingIs400AndCloses() throws {
        let harness = try ReceiverHarness()
        let request =
            "POST /webhooks/orders HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        let (response, client) = try send(Array(request.utf8), to: harness)
        expectError(response, 400, "bad_request")
        #expect(response.header("Connection") == "close")
        #expect(connectionIsClosed(client))
        #expect(try harness.deliveryCount() == 0)
    }

    @Test func badChunkSizeIs400AndCloses() throws {
        let harness = try ReceiverHarness()
        let request =
            "POST /webhooks/orders HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
        let (response, client) = try send(Array(request.utf8), to: harness)
        expectError(response, 400, "bad_request")
        #expect(connectionIsClosed(client))
        #expect(try harness.deliveryCount() == 0)
    }

    @Test func unfinishedHeadIs408AfterTheHeaderTimeout() throws {
        let harness = try ReceiverHarness(extraArguments: ["--header-timeout", "1"])
        let client = try harness.client(pki.validClient)
        try client.send(Array("POST /webhooks/orders HTTP/1.1\r\nHost: localhost\r\n".utf8))
        // The read timeout bounds the wait; the answer itself is what the test is about.
        let response = try client.readHTTPResponse(timeout: 15)
        expectError(response, 408, "request_timeout")
        #expect(response.header("Connection") == "close")
        #expect(connectionIsClosed(client))
    }

    @Test func stalledBodyIs408AfterTheBodyTimeout() throws {
        let harness = try ReceiverHarness(extraArguments: ["--body-timeout", "1"])
        let client = try harness.client(pki.validClient)
        try client.send(
            Array("POST /webhooks/orders HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc".utf8))
        let response = try client.readHTTPResponse(timeout: 15)
        expectError(response, 408, "request_timeout")
        #expect(connectionIsClosed(client))
        #expect(try harness.deliveryCount() == 0)
    }

    @Test func answersToAnUnauthorizedClientFollowSPECOrder() throws {
        let harness = try ReceiverHarness(extraArguments: ["--max-body-bytes", "1000"])
        let stranger = try pki.makeClient(cn: "stranger")
        func answer(_ request: String) throws -> TLSTestClient.HTTPResponse {
            let (outcome, _) = try harness.attempt(chain: stranger.certPath, key: stranger.keyPath, Array(request.utf8))
            return try outcome.get()
        }
        // 400 (unparsable head) → 404 → 405 → 403 → 413.
        expectError(
            try answer(
                "POST /webhooks/orders HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n"), 400, "bad_request")
        expectError(
            try answer("POST /elsewhere HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"), 404, "not_found")
        let wrongMethod = try answer("GET /webhooks/orders HTTP/1.1\r\nHost: localhost\r\n\r\n")
        expectError(wrongMethod, 405, "method_not_allowed")
        #expect(wrongMethod.header("Allow") == "POST")
        let refused = try answer("POST /webhooks/orders HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi")
        #expect(refused.status == 403)
        #expect(errorBody(refused) != nil)
        // Too large and unauthorized: the 403 wins, decided before the body.
        let tooLarge = try answer("POST /webhooks/orders HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n\r\n")
        #expect(tooLarge.status == 403)

        // Only the two 403s are stored as rejections; 400, 404 and 405 are not.
        #expect(try ReceiverHarness.eventually { try harness.rejections().count >= 2 })
        let rows = try harness.rejections()
        #expect(rows.map(\.reason) == ["unknown_client", "unknown_client"])
        #expect(rows.allSatisfy { $0.stage == "authorization" && $0.clientID == "stranger" })
        #expect(try harness.deliveryCount() == 0)
    }
}
