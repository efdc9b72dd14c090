import Foundation
import TLS
import TestSupport
import Testing

/// Connection-level behaviour found in review: one answer per request, quiet closes, no stray 408s.
@Suite("Connection edges end to end", .serialized)
struct ConnectionEdgeTests {
    @Test func aConnectionThatNeverSendsARequestIsClosedWithoutAnAnswer() throws {
        let harness = try ReceiverHarness(extraArguments: ["--header-timeout", "1"])
        let client = try harness.client(harness.pki.validClient)
        // A pooled client must never read a 408 it did not ask for: the server just closes.
        #expect(throws: TLSTestClient.Failure.self) { _ = try client.receive(timeout: 5) }
    }

    /// OpenSSL would send two TLS 1.3 tickets after each handshake and one more after each resumption,
    /// each the whole session (client certificate included) encoded and encrypted on the event loop: a full
    /// handshake issues one, and a resumption keeps using it and gets none.
    @Test func aTLS13HandshakeIssuesOneSessionTicketThatKeepsResuming() throws {
        let harness = try ReceiverHarness()
        let files = harness.pki.validClient
        let directory = try TestPKI.makeTemporaryDirectory(prefix: "webhookd-e2e-ticket")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let session = directory + "/session.pem"
        func sClient(_ extra: String) throws -> String {
            // stdin stays open for a second, so the tickets sent after the handshake are read and printed.
            try TestSupportProcess.run(
                "/bin/sh",
                [
                    "-c",
                    "sleep 1 | openssl s_client -connect 127.0.0.1:\(harness.port) -tls1_3 -cert '\(files.certificatePath)'"
                        + " -key '\(files.keyPath)' -CAfile '\(harness.pki.rootCA)' \(extra) 2>&1",
                ]
            ).stdout
        }
        let first = try sClient("-sess_out '\(session)'")
        #expect(first.components(separatedBy: "Session Ticket arrived").count - 1 == 1, "\(first)")
        for _ in 0..<2 {
            let resumed = try sClient("-sess_in '\(session)'")
            #expect(resumed.contains("Reused, TLSv1.3"), "\(resumed)")
            #expect(!resumed.contains("Session Ticket arrived"), "\(resumed)")
        }
    }

    @Test func a404WhoseBodyNeverArrivesGetsExactlyOneAnswerThenTheConnectionCloses() throws {
        let harness = try ReceiverHarness()
        let client = try harness.client(harness.pki.validClient)
        // 100 bytes promised, 10 sent: the 404 goes out at once; the drain gives up after ≤ 1 s and closes.
        let head = "POST /nope HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789"
        try client.send(Array(head.utf8))
        let response = try client.readHTTPResponse(timeout: 10)
        #expect(response.status == 404)
        var rest: [UInt8] = []
        while let chunk = try? client.receive(timeout: 5), !chunk.isEmpty { rest += chunk }
        #expect(rest.isEmpty, "a second answer arrived: \(String(decoding: rest, as: UTF8.self))")
    }

    @Test func headOnAWebhookPathIs405AndTheConnectionCloses() throws {
        let harness = try ReceiverHarness()
        let client = try harness.client(harness.pki.validClient)
        try client.send(ReceiverHarness.request("HEAD", "/webhooks/orders", contentLength: false))
        let response = try client.readHTTPResponse(timeout: 10)
        #expect(response.status == 405)
        #expect(throws: TLSTestClient.Failure.self) { _ = try client.receive(timeout: 5) }
    }
}
