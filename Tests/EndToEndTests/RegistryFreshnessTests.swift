import Foundation
import Operations
import Postgres
import TLS
import TestSupport
import Testing

/// Authorization never comes from a registry the receiver cannot refresh, and every registry change,
/// TRUNCATE included, reaches it within a second or so.
@Suite("Registry freshness end to end", .serialized)
struct RegistryFreshnessTests {
    @Test func aRegistryThatCannotBeRefreshedFailsClosedThenRecovers() throws {
        let harness = try ReceiverHarness(extraArguments: ["--registry-max-age", "2"])
        #expect(try harness.post("/webhooks/orders", body: [1]).status == 200)

        // Hold the clients table so no refresh can read it, and disable the client inside that transaction.
        let locker = try harness.connect()
        try locker.query("BEGIN")
        try locker.query("LOCK TABLE clients IN ACCESS EXCLUSIVE MODE")
        try locker.query("UPDATE clients SET enabled = false WHERE client_id = 'acme'")

        var answers: [Int] = []
        let failedClosed = ReceiverHarness.eventually(timeout: .seconds(15)) {
            let status = (try? harness.post("/webhooks/orders", body: [2]).status) ?? 0
            answers.append(status)
            return status == 503
        }
        #expect(failedClosed, "answers while the registry was stale: \(answers)")
        let refused = try harness.post("/webhooks/orders", body: [3])
        #expect(refused.status == 503)
        #expect(errorBody(refused)?.error == "registry_unavailable")
        #expect(refused.header("Retry-After") == "5")
        try harness.waitForLog("registry_unavailable", "--registry-max-age", timeout: .seconds(20))

        // The disabled client's change commits: once the registry is read again, it is a 403, never a 200.
        try locker.query("COMMIT")
        let recovered = ReceiverHarness.eventually(timeout: .seconds(20)) {
            (try? harness.post("/webhooks/orders", body: [4]).status) == 403
        }
        #expect(recovered)
        try harness.waitForLog("client registry refreshed")
        let stored = try harness.query("SELECT count(*) FROM deliveries WHERE body IN ('\\x03'::bytea, '\\x04'::bytea)")
        #expect(stored.string(0, 0) == "0")
    }

    @Test func truncatingTheClientsTableAppliesWithinASecondAndAHalf() throws {
        let harness = try ReceiverHarness()
        let client = try harness.client(harness.pki.validClient)
        try client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: [1]))
        #expect(try client.readHTTPResponse(timeout: 10).status == 200)
        _ = try harness.query("TRUNCATE clients")
        let started = ContinuousClock.now
        // The open keep-alive connection's next request is refused, like a new one's.
        try client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: [2]))
        var first = try client.readHTTPResponse(timeout: 10).status
        while first == 200, ContinuousClock.now - started < .seconds(1.5) {
            usleep(50_000)
            first = try harness.post("/webhooks/orders", body: [3]).status
        }
        #expect(first == 403)
        #expect(ContinuousClock.now - started < .seconds(1.5))
        #expect(errorBody(try harness.post("/webhooks/orders", body: [4]))?.error == "unknown_client")
    }

    @Test func aBlockedBookkeepingWriteDoesNotHoldUpTheRegistryRefresh() throws {
        let harness = try ReceiverHarness(clients: ["acme": ["orders"]])
        let locker = try harness.connect()
        _ = try locker.query("BEGIN")
        _ = try locker.query("LOCK TABLE rejections IN ACCESS EXCLUSIVE MODE")
        // A rejection is queued that the bookkeeper cannot store while the table is locked.
        #expect(try harness.post("/webhooks/billing", body: [2]).status == 403)
        usleep(300_000)
        try harness.withRegistry { registry in _ = try registry.setEnabled("acme", false) }
        let started = ContinuousClock.now
        let refused = ReceiverHarness.eventually(timeout: .seconds(5)) {
            (try? harness.post("/webhooks/orders", body: [3]).status) == 403
        }
        #expect(refused)
        #expect(ContinuousClock.now - started < .seconds(2))
        _ = try locker.query("ROLLBACK")
    }
}
