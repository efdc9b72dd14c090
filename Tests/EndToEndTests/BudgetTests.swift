import Foundation
import Glibc
import Postgres
import TLS
import TestSupport
import Testing

/// Process-wide budgets: connections, body bytes held, and the time a whole body may take.
@Suite("Budgets end to end", .serialized)
struct BudgetTests {
    static func head(length: Int, key: String) -> [UInt8] {
        Array(
            "POST /webhooks/orders HTTP/1.1\r\nHost: localhost\r\nwebhook-id: \(key)\r\nContent-Length: \(length)\r\n\r\n"
                .utf8)
    }

    @Test func whenTheBodyBudgetIsHeldAnotherBodyWaitsAndGets503IfItCannotProceedInTime() throws {
        let harness = try ReceiverHarness(extraArguments: [
            "--max-buffered-bytes", "65536", "--max-body-bytes", "65536", "--body-timeout", "2",
        ])
        // B's head arrives first, then A takes almost the whole budget and stalls; B's body then cannot
        // be read, and B's body timeout (started at its head) runs out before A's.
        let waiting = try harness.client(harness.pki.validClient)
        try waiting.send(Self.head(length: 4_000, key: "waiting"))
        usleep(800_000)
        let holder = try harness.client(harness.pki.validClient)
        try holder.send(Self.head(length: 65_536, key: "holder") + [UInt8](repeating: 0x61, count: 65_000))
        usleep(300_000)
        try waiting.send([UInt8](repeating: 0x62, count: 4_000))
        // Whichever deadline the sweep reaches first, B never gets a 200 while A still holds the budget:
        // either B is 503 over_capacity, or A's 408 came first and freed the budget for B.
        var waitingAnswer: (response: TLSTestClient.HTTPResponse, at: ContinuousClock.Instant)?
        var holderAnswer: (response: TLSTestClient.HTTPResponse, at: ContinuousClock.Instant)?
        let deadline = ContinuousClock.now + .seconds(20)
        while (waitingAnswer == nil || holderAnswer == nil) && ContinuousClock.now < deadline {
            if waitingAnswer == nil, let response = try? waiting.readHTTPResponse(timeout: 0) {
                waitingAnswer = (response, .now)
            }
            if holderAnswer == nil, let response = try? holder.readHTTPResponse(timeout: 0) {
                holderAnswer = (response, .now)
            }
            usleep(20_000)
        }
        let b = try #require(waitingAnswer)
        let a = try #require(holderAnswer)
        // A stalled on its own (408), or was itself held back by the full budget (503): never stored.
        #expect([408, 503].contains(a.response.status))
        if b.response.status == 200 {
            #expect(a.at <= b.at, "B was stored while A still held the budget")
        } else {
            #expect(b.response.status == 503, "\(b.response.bodyText)")
            #expect(errorBody(b.response)?.error == "over_capacity")
            #expect(b.response.header("Retry-After") == "5")
        }
        let storedBefore = try harness.deliveryCount()
        #expect(try harness.post("/webhooks/orders", body: [UInt8](repeating: 0x63, count: 60_000)).status == 200)
        #expect(try harness.deliveryCount() == storedBefore + 1)
    }

    @Test func oneClientsStalledBodiesWaitOnItsOwnShareWhileAnotherClientIsStored() throws {
        let harness = try ReceiverHarness(
            clients: ["acme": ["orders"], "globex": ["orders"]],
            extraArguments: [
                "--max-buffered-bytes", "262144", "--client-max-buffered-bytes", "65536", "--max-body-bytes", "65536",
                "--body-timeout", "3",
            ])
        // acme stalls eight bodies of 48 KiB: alone it could hold the whole 256 KiB budget; its share stops
        // it at 64 KiB, so its later bodies cannot be read at all.
        var stalled: [TLSTestClient] = []
        for index in 0..<8 {
            let client = try harness.client(harness.pki.validClient)
            try client.send(Self.head(length: 60_000, key: "stall-\(index)") + [UInt8](repeating: 0x61, count: 48_000))
            stalled.append(client)
        }
        usleep(500_000)
        // globex is untouched by it: its 60 KiB bodies are read and stored at once.
        for index in 0..<3 {
            let started = ContinuousClock.now
            let response = try harness.post(
                "/webhooks/orders", body: [UInt8](repeating: 0x62, count: 60_000),
                headers: [("webhook-id", "globex-\(index)")], as: harness.pki.otherClient)
            #expect(response.status == 200, "\(response.bodyText)")
            #expect(ContinuousClock.now - started < .seconds(2))
        }
        // acme's stalled bodies end in 408 (its own stall) or 503 (waiting on its share); none is stored.
        for client in stalled {
            let status = (try? client.readHTTPResponse(timeout: 15))?.status
            #expect(status == 408 || status == 503, "stalled body answered \(String(describing: status))")
        }
        let rows = try harness.query("SELECT client_id, count(*) FROM deliveries GROUP BY client_id")
        #expect(rows.rowCount == 1 && rows.string(0, 0) == "globex" && rows.string(0, 1) == "3")
    }

    @Test func aBodyTrickledSteadilyStillEndsAtTheBodyDeadline() throws {
        let harness = try ReceiverHarness(extraArguments: ["--body-deadline", "3", "--body-timeout", "30"])
        let client = try harness.client(harness.pki.validClient)
        try client.send(Self.head(length: 1_000, key: "trickle"))
        let started = ContinuousClock.now
        var answered: TLSTestClient.HTTPResponse?
        for _ in 0..<20 {
            try? client.send([0x61])
            if let response = try? client.readHTTPResponse(timeout: 0) {
                answered = response
                break
            }
            usleep(400_000)
        }
        if answered == nil { answered = try client.readHTTPResponse(timeout: 5) }
        #expect(answered?.status == 408)
        #expect(ContinuousClock.now - started < .seconds(6))
        #expect(try harness.deliveryCount() == 0)
    }

    @Test func pastMaxConnectionsNewConnectionsAreRefusedUntilOneCloses() throws {
        let harness = try ReceiverHarness(extraArguments: ["--max-connections", "3"])
        var open: [TLSTestClient] = []
        for _ in 0..<3 { open.append(try harness.client(harness.pki.validClient)) }
        #expect(throws: (any Error).self) { _ = try harness.post("/webhooks/orders", body: [1]) }
        open.removeLast()  // closes it
        let admitted = ReceiverHarness.eventually(timeout: .seconds(5)) {
            (try? harness.post("/webhooks/orders", body: [2]).status) == 200
        }
        #expect(admitted)
        try open[0].send(ReceiverHarness.request("POST", "/webhooks/orders", body: [3]))
        #expect(try open[0].readHTTPResponse(timeout: 10).status == 200)
    }
}
