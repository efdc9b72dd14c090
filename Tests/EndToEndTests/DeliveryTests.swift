import Foundation
import Postgres
import TLS
import TestSupport
import Testing

/// Accepted deliveries: what the client gets back and what the `deliveries` row holds.
@Suite("Deliveries end to end", .serialized)
struct DeliveryTests {
    @Test func binaryBodyIsCommittedByteExactWithHeadersAndCertificateFacts() throws {
        let harness = try ReceiverHarness()
        let body: [UInt8] = [0x00, 0xFF, 0x80, 0x0A, 0x0D, 0x00, 0x7B, 0x22, 0xC3, 0x28] + Array(0...255)
        let response = try harness.post(
            "/webhooks/orders?source=test&x=1", body: body,
            headers: [("X-Trace", "one"), ("Content-Type", "application/octet-stream"), ("x-trace", "two")])
        #expect(response.status == 200)
        let answer = try #require(deliveryAnswer(response))
        #expect(answer.duplicate == false)

        let row = try harness.query(
            """
            SELECT client_id, endpoint, method, path, query, headers::text, content_type, body, body_json, body_sha256,
                   cert_subject, cert_issuer, cert_serial, cert_sha256, host(remote_addr), tls_version, tls_cipher,
                   webhookd_header(headers, 'X-TRACE'), processing_state, cert_not_after IS NOT NULL
            FROM deliveries WHERE id = $1
            """, [.text(answer.id)])
        #expect(row.rowCount == 1)
        #expect(row.string(0, 0) == "acme")
        #expect(row.string(0, 1) == "orders")
        #expect(row.string(0, 2) == "POST")
        #expect(row.string(0, 3) == "/webhooks/orders")
        #expect(row.string(0, 4) == "source=test&x=1")
        let headers = try #require(row.string(0, 5))
        let pairs = try #require(try JSONSerialization.jsonObject(with: Data(headers.utf8)) as? [[String]])
        #expect(
            pairs == [
                ["Host", "localhost"], ["X-Trace", "one"], ["Content-Type", "application/octet-stream"],
                ["x-trace", "two"], ["Content-Length", "\(body.count)"],
            ])
        #expect(row.string(0, 6) == "application/octet-stream")
        #expect(row.bytes(0, 7) == body)
        #expect(row.isNull(0, 8))
        #expect(row.string(0, 9) == SHA256Digest.hex(body))
        let openssl = try OpenSSLFacts(certificate: harness.pki.validClient.certificatePath)
        #expect(row.string(0, 10) == openssl.subject)
        #expect(row.string(0, 12) == openssl.serial)
        #expect(row.string(0, 13) == openssl.sha256)
        #expect(row.string(0, 14) == "127.0.0.1")
        #expect(row.string(0, 15) == "TLSv1.3")
        #expect(row.string(0, 16)?.hasPrefix("TLS_") == true)
        #expect(row.string(0, 17) == "one")
        #expect(row.string(0, 18) == "pending")
        #expect(row.bool(0, 19) == true)
    }

    @Test func jsonBodyIsAlsoStoredAsJSONBAndEmptyQueryIsEmptyString() throws {
        let harness = try ReceiverHarness()
        let body = Array(#"{"type":"invoice.paid","amount":4200,"nested":{"ok":true}}"#.utf8)
        let response = try harness.post("/webhooks/orders?", body: body, headers: [("Content-Type", "text/plain")])
        let answer = try #require(deliveryAnswer(response))
        let row = try harness.query(
            "SELECT body_json->>'type', (body_json->'nested'->>'ok'), query FROM deliveries WHERE id = $1",
            [.text(answer.id)])
        #expect(row.string(0, 0) == "invoice.paid")
        #expect(row.string(0, 1) == "true")
        #expect(row.string(0, 2) == "")
        let invalid = try harness.post("/webhooks/orders", body: Array(#"{"a":"\u0000"}"#.utf8))
        let invalidAnswer = try #require(deliveryAnswer(invalid))
        let stored = try harness.query(
            "SELECT body_json IS NULL, query IS NULL FROM deliveries WHERE id = $1", [.text(invalidAnswer.id)])
        #expect(stored.bool(0, 0) == true)
        #expect(stored.bool(0, 1) == true)
    }

    @Test(arguments: ["webhook-id", "X-GitHub-Delivery", "Idempotency-Key"])
    func repeatedIdempotencyKeyIsADuplicateWithOneRow(header: String) throws {
        let harness = try ReceiverHarness()
        let first = try #require(
            deliveryAnswer(
                try harness.post("/webhooks/orders", body: Array("first".utf8), headers: [(header, "key-1")])))
        let second = try #require(
            deliveryAnswer(
                try harness.post(
                    "/webhooks/orders", body: Array("second".utf8), headers: [(header.uppercased(), "key-1")])))
        #expect(first.duplicate == false)
        #expect(second.duplicate == true)
        #expect(second.id == first.id)
        let rows = try harness.query("SELECT count(*), min(convert_from(body, 'UTF8')) FROM deliveries")
        #expect(rows.string(0, 0) == "1")
        #expect(rows.string(0, 1) == "first")
    }

    @Test func webhookIDWinsOverTheOtherIdempotencyHeaders() throws {
        let harness = try ReceiverHarness()
        let answer = try #require(
            deliveryAnswer(
                try harness.post(
                    "/webhooks/orders", body: [1],
                    headers: [("Idempotency-Key", "idem"), ("X-GitHub-Delivery", "gh"), ("webhook-id", "std")])))
        let row = try harness.query("SELECT idempotency_key FROM deliveries WHERE id = $1", [.text(answer.id)])
        #expect(row.string(0, 0) == "std")
    }

    @Test func chunkedBodyIsReassembled() throws {
        let harness = try ReceiverHarness()
        let client = try harness.client(harness.pki.validClient)
        let request =
            "POST /webhooks/orders HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: ignored\r\n\r\n"
        try client.send(Array(request.utf8))
        let response = try client.readHTTPResponse(timeout: 10)
        #expect(response.status == 200)
        let answer = try #require(deliveryAnswer(response))
        let row = try harness.query(
            "SELECT convert_from(body, 'UTF8') FROM deliveries WHERE id = $1", [.text(answer.id)])
        #expect(row.string(0, 0) == "hello, world")
    }

    @Test func hundredRequestsOnOneKeepAliveConnection() throws {
        let harness = try ReceiverHarness()
        let client = try harness.client(harness.pki.validClient)
        var ids = Set<String>()
        for index in 0..<100 {
            try client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: Array("n=\(index)".utf8)))
            let response = try client.readHTTPResponse(timeout: 10)
            #expect(response.status == 200)
            if let answer = deliveryAnswer(response) { ids.insert(answer.id) }
        }
        #expect(ids.count == 100)
        #expect(try harness.query("SELECT count(*) FROM deliveries").string(0, 0) == "100")
    }

    @Test func threePipelinedRequestsInOneWriteAreAnsweredInOrder() throws {
        let harness = try ReceiverHarness()
        let client = try harness.client(harness.pki.validClient)
        let requests = (1...3).flatMap {
            ReceiverHarness.request("POST", "/webhooks/orders", body: Array("p\($0)".utf8))
        }
        try client.send(requests)
        var ids: [String] = []
        for _ in 1...3 {
            let response = try client.readHTTPResponse(timeout: 10)
            #expect(response.status == 200)
            ids.append(try #require(deliveryAnswer(response)).id)
        }
        for (index, id) in ids.enumerated() {
            let row = try harness.query("SELECT convert_from(body, 'UTF8') FROM deliveries WHERE id = $1", [.text(id)])
            #expect(row.string(0, 0) == "p\(index + 1)")
        }
    }

    /// A request written while the previous one awaits its commit (its connection stops reading then, but
    /// keeps its epoll registration until such bytes arrive) is read and answered once that commit returns.
    @Test func requestsWrittenWhileTheirPredecessorAwaitsItsCommitAreAnsweredInOrder() throws {
        let harness = try ReceiverHarness()
        let client = try harness.client(harness.pki.validClient)
        var ids: [String] = []
        for round in 1...5 {
            try client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: Array("a\(round)".utf8)))
            // Commits take milliseconds: these bytes usually arrive before the first answer.
            try client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: Array("b\(round)".utf8)))
            for _ in 0..<2 {
                let response = try client.readHTTPResponse(timeout: 10)
                #expect(response.status == 200)
                ids.append(try #require(deliveryAnswer(response)).id)
            }
        }
        let bodies = try ids.map {
            try harness.query("SELECT convert_from(body, 'UTF8') FROM deliveries WHERE id = $1", [.text($0)])
                .string(0, 0)
        }
        #expect(bodies == (1...5).flatMap { ["a\($0)", "b\($0)"] })
    }

    @Test func curlWithExpectContinueDelivers200KiB() throws {
        let harness = try ReceiverHarness()
        let directory = try TestCluster.makeReachableDirectory()
        let bodyPath = directory + "/body.bin"
        let body = (0..<(200 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(body).write(to: URL(fileURLWithPath: bodyPath))
        let result = try harness.curl(
            [
                "--cert", harness.pki.validClient.certificatePath, "--key", harness.pki.validClient.keyPath,
                "-H", "Expect: 100-continue", "-H", "Content-Type: application/octet-stream", "--data-binary",
                "@" + bodyPath,
            ], path: "/webhooks/orders")
        #expect(result.status == 200, "\(result.stderr)")
        let id = try #require(
            (try? JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any])?["delivery_id"]
                as? String)
        let row = try harness.query("SELECT body FROM deliveries WHERE id = $1", [.text(id)])
        #expect(row.bytes(0, 0) == body)
    }
}

/// What the `openssl` command prints for a certificate, normalised to SPEC's formats.
struct OpenSSLFacts {
    var subject: String
    var serial: String
    var sha256: String

    init(certificate path: String) throws {
        func openssl(_ arguments: [String]) throws -> String {
            let process = try WebhookdProcess(executable: "/usr/bin/openssl", arguments)
            _ = process.waitForExit(timeout: .seconds(10))
            return process.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        subject = try openssl(["x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253"])
            .replacingOccurrences(of: "subject=", with: "")
        serial = try openssl(["x509", "-in", path, "-noout", "-serial"]).replacingOccurrences(of: "serial=", with: "")
        let fingerprint = try openssl(["x509", "-in", path, "-noout", "-fingerprint", "-sha256"])
        sha256 = String(fingerprint.split(separator: "=").last ?? "").replacingOccurrences(of: ":", with: "")
            .lowercased()
    }
}
