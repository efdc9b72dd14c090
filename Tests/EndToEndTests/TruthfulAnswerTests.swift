import Foundation
import Glibc
import Postgres
import Synchronization
import TLS
import TestSupport
import Testing

/// A provider acts on our answer: 2xx means stored, 503 means not stored. Under database faults each
/// answer must stay true.
@Suite("Truthful answers under faults", .serialized)
struct TruthfulAnswerTests {
    /// One POST on a new connection to `port` as the valid test client; its status, 0 without an answer.
    static func post(port: UInt16, body: String, timeout: Int = 40) -> Int {
        let pki = TestPKI.shared
        guard
            let client = try? TLSTestClient(
                port: port, certificateChainPath: pki.validClient.chainPath, keyPath: pki.validClient.keyPath,
                trustedCAPath: pki.rootCA),
            (try? client.handshake()) != nil,
            (try? client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: Array(body.utf8)))) != nil,
            let response = try? client.readHTTPResponse(timeout: timeout)
        else { return 0 }
        return response.status
    }

    /// Sends one POST per body on its own connection, all at once, and returns each body's status
    /// (0 when the connection closed without an answer).
    static func postConcurrently(_ harness: ReceiverHarness, bodies: [String], timeout: Int = 40) -> [String: Int] {
        let results = Mutex<[String: Int]>([:])
        let port = harness.port
        DispatchQueue.concurrentPerform(iterations: bodies.count) { index in
            let status = Self.post(port: port, body: bodies[index], timeout: timeout)
            results.withLock { $0[bodies[index]] = status }
        }
        return results.withLock { $0 }
    }

    static func storedBodies(_ harness: ReceiverHarness) throws -> Set<String> {
        let rows = try harness.query("SELECT convert_from(body, 'UTF8') FROM deliveries")
        return Set((0..<rows.rowCount).compactMap { rows.string($0, 0) })
    }

    @Test func pastTheCommitTimeoutClientsGet503AndNoneOfThoseBodiesIsStoredLater() throws {
        let harness = try ReceiverHarness(extraArguments: ["--commit-timeout", "2"])
        let locker = try harness.connect()
        _ = try locker.query("BEGIN")
        _ = try locker.query("LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE")
        let started = ContinuousClock.now
        let answers = Self.postConcurrently(harness, bodies: (0..<12).map { "locked-\($0)" })
        let waited = ContinuousClock.now - started
        #expect(answers.values.allSatisfy { $0 == 503 }, "\(answers)")
        // Withdrawn at the deadline, or cancelled with the statement at the same bound: not 30 s.
        #expect(waited < .seconds(8), "\(waited)")
        _ = try locker.query("ROLLBACK")
        // After the lock is gone, a fresh delivery commits; none of the 503s ever does.
        // (the writers back off after a refused batch, so the first tries may still be 503)
        var attempt = 0
        let recovered = ReceiverHarness.eventually(timeout: .seconds(10)) {
            attempt += 1
            return (try? harness.post("/webhooks/orders", body: Array("after-\(attempt)".utf8)).status) == 200
        }
        #expect(recovered)
        usleep(500_000)
        let stored = try Self.storedBodies(harness)
        #expect(stored == ["after-\(attempt)"], "\(stored)")
    }

    @Test func sigtermWhileTheTableIsLockedExitsWithinTenSecondsAndStoresNothingAnswered503() throws {
        let harness = try ReceiverHarness()
        let locker = try harness.connect()
        _ = try locker.query("BEGIN")
        _ = try locker.query("LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE")
        let answers = Mutex<[String: Int]>([:])
        let done = DispatchGroup()
        let port = harness.port
        for index in 0..<8 {
            done.enter()
            DispatchQueue.global().async {
                defer { done.leave() }
                let body = "term-\(index)"
                let status = Self.post(port: port, body: body, timeout: 30)
                answers.withLock { $0[body] = status }
            }
        }
        usleep(1_000_000)  // the requests are in, waiting on the lock
        let signalled = ContinuousClock.now
        harness.process.signal(SIGTERM)
        let status = harness.process.waitForExit(timeout: .seconds(15))
        let exitTime = ContinuousClock.now - signalled
        #expect(status == 0, "\(harness.process.errorOutput)")
        #expect(exitTime < .seconds(10), "\(exitTime)")
        _ = done.wait(timeout: .now() + 30)
        _ = try locker.query("COMMIT")
        let seen = answers.withLock { $0 }
        #expect(!seen.values.contains(200))
        #expect(!seen.values.contains(500))
        let stored = try Self.storedBodies(harness)
        let answered503 = Set(seen.filter { $0.value == 503 }.keys)
        #expect(stored.isDisjoint(with: answered503), "stored \(stored), answered 503: \(answered503)")
    }

    @Test func writerSessionsKilledUnderLoadLoseNo200AndAnswerNo500() throws {
        let harness = try ReceiverHarness()
        let statuses = Mutex<[String: Int]>([:])
        let stop = Atomic<Bool>(false)
        let done = DispatchGroup()
        let port = harness.port
        for worker in 0..<4 {
            done.enter()
            DispatchQueue.global().async {
                defer { done.leave() }
                var sequence = 0
                while !stop.load(ordering: .relaxed) {
                    sequence += 1
                    let body = "load-\(worker)-\(sequence)"
                    let status = Self.post(port: port, body: body)
                    statuses.withLock { $0[body] = status }
                }
            }
        }
        let killer = try harness.connect()
        for _ in 0..<6 {
            usleep(400_000)
            _ = try killer.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'webhookd writer'")
        }
        usleep(1_500_000)
        stop.store(true, ordering: .relaxed)
        _ = done.wait(timeout: .now() + 60)
        let seen = statuses.withLock { $0 }
        let stored = try Self.storedBodies(harness)
        let ok = Set(seen.filter { $0.value == 200 }.keys)
        #expect(ok.count > 10)
        #expect(ok.isSubset(of: stored), "200s missing from the table: \(ok.subtracting(stored))")
        #expect(!seen.values.contains(500))
        let answered503 = Set(seen.filter { $0.value == 503 }.keys)
        #expect(stored.isDisjoint(with: answered503), "answered 503 but stored: \(stored.intersection(answered503))")
    }
}
