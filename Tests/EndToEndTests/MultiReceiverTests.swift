import Foundation
import Postgres
import Synchronization
import TLS
import TestSupport
import Testing

/// Several `serve` processes on one database: receivers hold no state, so the database's unique index
/// decides duplicates across them, every registry change reaches each of them, and one stopping leaves the
/// others serving (README, "More than one receiver").
@Suite("Several receivers on one database", .serialized)
struct MultiReceiverTests {
    /// Two receivers on their own ports over one fresh database; the first registers `acme`.
    private static func pair(extraArguments: [String] = []) throws -> (ReceiverHarness, ReceiverHarness) {
        let database = try TestDatabase.create()
        let first = try ReceiverHarness(
            clients: ["acme": ["orders"]], extraArguments: extraArguments, databaseURL: database.url,
            databaseParameters: database.parameters)
        let second = try ReceiverHarness(
            clients: [:], extraArguments: extraArguments, databaseURL: database.url,
            databaseParameters: database.parameters)
        return (first, second)
    }

    @Test func oneKeySentToBothAtOnceIsOneRowAndOneDeliveryID() throws {
        let (first, second) = try Self.pair()
        let rounds = 25
        for round in 0..<rounds {
            let key = "msg_race_\(round)"
            let request = ReceiverHarness.request(
                "POST", "/webhooks/orders", body: Array("{\"round\":\(round)}".utf8),
                headers: [("webhook-id", key), ("Content-Type", "application/json")])
            let ports = [first.port, second.port]
            let ready = Mutex(0)
            let answers = Mutex<[Int: TLSTestClient.HTTPResponse]>([:])
            DispatchQueue.concurrentPerform(iterations: 2) { index in
                let pki = TestPKI.shared
                guard
                    let client = try? TLSTestClient(
                        port: ports[index], certificateChainPath: pki.validClient.chainPath,
                        keyPath: pki.validClient.keyPath, trustedCAPath: pki.rootCA),
                    (try? client.handshake(timeout: 10)) != nil
                else { return }
                // Both connections are handshaken before either request leaves, so the two statements
                // race in PostgreSQL rather than one finishing before the other starts.
                ready.withLock { $0 += 1 }
                let deadline = ContinuousClock.now + .seconds(10)
                while ready.withLock({ $0 }) < 2, ContinuousClock.now < deadline { usleep(100) }
                guard (try? client.send(request, timeout: 10)) != nil,
                    let response = try? client.readHTTPResponse(timeout: 10)
                else { return }
                answers.withLock { $0[index] = response }
            }
            let responses = answers.withLock { answers in answers.keys.sorted().compactMap { answers[$0] } }
            #expect(responses.map(\.status) == [200, 200], "round \(round): \(responses.map(\.body))")
            let parsed = responses.compactMap(deliveryAnswer)
            try #require(parsed.count == 2, "round \(round): \(responses.map(\.body))")
            #expect(parsed[0].id == parsed[1].id, "round \(round): \(responses.map(\.body))")
            // Exactly one of the two stored it; the other names the same row as a duplicate.
            #expect(parsed.filter(\.duplicate).count == 1, "round \(round): \(responses.map(\.body))")
            let rows = try first.query(
                "SELECT id::text FROM deliveries WHERE client_id = 'acme' AND idempotency_key = $1", [.text(key)])
            #expect(rows.rowCount == 1)
            #expect(rows.string(0, 0) == parsed[0].id)
        }
        #expect(try first.deliveryCount() == rounds)
    }

    @Test func aRegistryChangeReachesBothWithinASecond() throws {
        let (first, second) = try Self.pair()
        for harness in [first, second] {
            #expect(try harness.post("/webhooks/orders", body: [1]).status == 200)
        }
        _ = try first.query("UPDATE clients SET enabled = false WHERE client_id = 'acme'")
        let changed = ContinuousClock.now
        for (index, harness) in [first, second].enumerated() {
            var answers: [Int] = []
            let refused = ReceiverHarness.eventually(timeout: .seconds(1)) {
                let status = (try? harness.post("/webhooks/orders", body: [2]).status) ?? 0
                answers.append(status)
                return status == 403
            }
            #expect(refused, "receiver \(index + 1) answered \(answers) in the second after the client was disabled")
        }
        #expect(ContinuousClock.now - changed < .seconds(2))
        // And back: enabling reaches both as well.
        _ = try second.query("UPDATE clients SET enabled = true WHERE client_id = 'acme'")
        for harness in [first, second] {
            #expect(
                ReceiverHarness.eventually(timeout: .seconds(1)) {
                    (try? harness.post("/webhooks/orders", body: [3]).status) == 200
                })
        }
    }

    @Test func stoppingOneLeavesTheOtherServing() throws {
        let (first, second) = try Self.pair()
        #expect(try first.post("/webhooks/orders", body: [1]).status == 200)
        first.process.signal(SIGTERM)
        #expect(first.process.waitForExit(timeout: .seconds(30)) == 0)
        for body in 2...6 {
            #expect(try second.post("/webhooks/orders", body: [UInt8(body)]).status == 200)
        }
        #expect(try second.deliveryCount() == 6)
    }

    /// Two processes may share one port: each listener sets SO_REUSEPORT, so the kernel spreads new
    /// connections over both, and only the remaining one gets them after the other stops.
    @Test func twoReceiversShareOnePortWithReusePort() throws {
        let database = try TestDatabase.create()
        let logging = ["--log-requests"]
        let first = try ReceiverHarness(
            clients: ["acme": ["orders"]], extraArguments: logging, databaseURL: database.url,
            databaseParameters: database.parameters)
        let second = try ReceiverHarness(
            clients: [:], extraArguments: logging + ["--listen", "127.0.0.1:\(first.port)"],
            databaseURL: database.url, databaseParameters: database.parameters)
        #expect(second.port == first.port)
        for body in 1...40 {
            #expect(try first.post("/webhooks/orders", body: [UInt8(body)]).status == 200)
        }
        // The kernel hashes each new connection to one of the listeners: 40 connections reach both
        // processes (all 40 on one of them has odds of about 2^-39).
        let served = [first, second].map { $0.logLines(" info request ", " status=200").count }
        #expect(served.allSatisfy { $0 > 0 } && served.reduce(0, +) == 40, "requests per receiver: \(served)")
        first.process.signal(SIGTERM)
        #expect(first.process.waitForExit(timeout: .seconds(30)) == 0)
        for body in 41...50 {
            #expect(try second.post("/webhooks/orders", body: [UInt8(body)]).status == 200)
        }
        #expect(try second.deliveryCount() == 50)
    }
}
