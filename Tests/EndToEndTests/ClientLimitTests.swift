import Foundation
import Operations
import Postgres
import TLS
import TestSupport
import Testing

/// Per-client limits from the `clients` table: 429s with Retry-After, nothing stored, refusals recorded.
@Suite("Client limits end to end", .serialized)
struct ClientLimitTests {
    @Test func overItsRateAClientGets429RateLimitedAndItsNeighbourIsUnaffected() throws {
        let harness = try ReceiverHarness(clients: ["acme": ["orders"], "globex": ["orders"]])
        try harness.withRegistry { registry in
            _ = try registry.setLimits("acme", ClientRegistry.Limits(ratePerSecond: .some(0.2), burst: .some(2)))
        }
        usleep(1_500_000)  // the change reaches the receiver within a second
        let client = try harness.client(harness.pki.validClient)
        var statuses: [Int] = []
        var limited: TLSTestClient.HTTPResponse?
        for index in 0..<3 {
            try client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: [UInt8(index)]))
            let response = try client.readHTTPResponse(timeout: 10)
            statuses.append(response.status)
            if response.status == 429 { limited = response }
        }
        #expect(statuses == [200, 200, 429])
        let answer = try #require(limited)
        #expect(errorBody(answer)?.error == "rate_limited")
        #expect(Int(answer.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(answer.header("Connection") != "close")  // rate limits keep the connection
        #expect(try harness.deliveryCount() == 2)
        #expect(try ReceiverHarness.eventually { try harness.rejections().map(\.reason).contains("rate_limited") })
    }

    @Test func overItsConnectionLimitAClientGets429AndThatConnectionCloses() throws {
        let harness = try ReceiverHarness()
        try harness.withRegistry { registry in
            _ = try registry.setLimits("acme", ClientRegistry.Limits(maxConnections: .some(2)))
        }
        usleep(1_500_000)
        var open: [TLSTestClient] = []
        for index in 0..<2 {
            let client = try harness.client(harness.pki.validClient)
            try client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: [UInt8(index)]))
            #expect(try client.readHTTPResponse(timeout: 10).status == 200)
            open.append(client)
        }
        let third = try harness.client(harness.pki.validClient)
        try third.send(ReceiverHarness.request("POST", "/webhooks/orders", body: [9]))
        let refused = try third.readHTTPResponse(timeout: 10)
        #expect(refused.status == 429)
        #expect(errorBody(refused)?.error == "too_many_connections")
        #expect(refused.header("Retry-After") != nil)
        #expect(connectionIsClosed(third))
        // Closing one frees its slot.
        open.removeLast()
        let admitted = ReceiverHarness.eventually(timeout: .seconds(5)) {
            (try? harness.post("/webhooks/orders", body: [3]).status) == 200
        }
        #expect(admitted)
        #expect(
            try ReceiverHarness.eventually { try harness.rejections().map(\.reason).contains("too_many_connections") })
    }
}
