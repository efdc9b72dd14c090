import Dispatch
import Foundation
import Postgres
import Receiver
import Synchronization
import TLS
import TestSupport
import Testing

/// The process around the requests: database outages, SIGTERM, SIGHUP, start-up configuration errors,
/// `webhookd dev`'s port check, and descriptors after many connections.
@Suite("Lifecycle end to end", .serialized)
struct LifecycleTests {
    let pki = TestPKI.shared

    // MARK: - Database outage

    @Test func databaseOutageAnswers503WithRetryAfterAndDeliveriesResumeWhenItIsBack() throws {
        let directory = try TestCluster.makeReachableDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }  // A leftover under /tmp harms nothing.
        var cluster = EmbeddedCluster(dataDirectory: directory)
        let settings = ["fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"]
        cluster.serverSettings = settings
        cluster.initdbArguments = ["--no-sync"]
        let lease = try cluster.start()
        // Stops the server (the test holds the only lease) whether or not the test got that far.
        defer { lease.release() }
        let parameters = lease.connectionParameters()
        do {
            let connection = try PGConnection(parameters: parameters, applicationName: "webhookd-tests")
            defer { connection.close() }
            try Migrator(directory: TestDatabase.sqlDirectory).apply(on: connection)
        }
        let password = try #require(parameters["password"])
        let url = "postgresql://\(EmbeddedCluster.user):\(password)@127.0.0.1:\(lease.port)/\(EmbeddedCluster.database)"
        let harness = try ReceiverHarness(
            clients: ["acme": ["orders"]], databaseURL: url, databaseParameters: parameters)
        let before = try harness.post("/webhooks/orders", body: Array("before".utf8))
        #expect(before.status == 200, "\(before.bodyText)")

        let pgdata = directory + "/postgres"
        try PostgresControl.run(["-D", pgdata, "-m", "fast", "-w", "-t", "60", "stop"])
        for attempt in 1...3 {
            let response = try harness.post("/webhooks/orders", body: Array("during \(attempt)".utf8))
            #expect(response.status == 503, "attempt \(attempt): \(response.status) \(response.bodyText)")
            #expect(response.header("Retry-After") == "5")
            #expect(errorBody(response) != nil, "\(response.bodyText)")
        }

        // The same port, so the server's --database-url still points at it.
        let options =
            (["-p \(lease.port)", "-c listen_addresses=127.0.0.1", "-c unix_socket_directories=''"]
            + settings.sorted { $0.key < $1.key }.map { "-c \($0.key)=\($0.value)" }).joined(separator: " ")
        try PostgresControl.run([
            "-D", pgdata, "-l", pgdata + "/webhookd-server.log", "-w", "-t", "60", "-o", options, "start",
        ])
        var after: TLSTestClient.HTTPResponse?
        let recovered = try ReceiverHarness.eventually(timeout: .seconds(30)) {
            let response = try harness.post("/webhooks/orders", body: Array("after".utf8))
            #expect(response.status == 200 || response.status == 503, "\(response.status) \(response.bodyText)")
            after = response
            return response.status == 200
        }
        #expect(recovered)
        let id = try #require(after.flatMap(deliveryAnswer)?.id)
        let rows = try harness.query("SELECT convert_from(body, 'UTF8') FROM deliveries ORDER BY received_at")
        #expect((0..<rows.rowCount).map { rows.string($0, 0) } == ["before", "after"])
        #expect(try harness.query("SELECT 1 FROM deliveries WHERE id = $1", [.text(id)]).rowCount == 1)
    }

    // MARK: - SIGTERM

    /// What one request on a connection got.
    struct Answer: Sendable {
        var status: Int
        var deliveryID: String?
        var retryAfter: String?
    }

    /// Answers collected from several threads. Sendable because its one field is a `Mutex`.
    final class AnswerLog: Sendable {
        private let answers = Mutex<[Answer]>([])

        func append(_ answer: Answer) { answers.withLock { $0.append(answer) } }
        var all: [Answer] { answers.withLock { $0 } }
    }

    @Test func sigtermWithRequestsInFlightAnswersEveryCommittedRequestAndExitsZero() throws {
        let harness = try ReceiverHarness()
        let answers = AnswerLog()
        let port = harness.port
        let files = pki.validClient
        let rootCA = pki.rootCA
        let finished = DispatchGroup()
        // 4 threads × 5 keep-alive connections, each sending one request after another until the server closes it.
        for thread in 0..<4 {
            finished.enter()
            Thread.detachNewThread {
                defer { finished.leave() }
                var clients: [TLSTestClient] = []
                for _ in 0..<5 {
                    guard
                        let client = try? TLSTestClient(
                            port: port, certificateChainPath: files.chainPath, keyPath: files.keyPath,
                            trustedCAPath: rootCA)
                    else { continue }
                    // A client the server closed before its handshake simply takes no part.
                    guard (try? client.handshake(timeout: 10)) != nil else { continue }
                    clients.append(client)
                }
                let deadline = ContinuousClock.now + .seconds(60)
                var sequence = 0
                while !clients.isEmpty && ContinuousClock.now < deadline {
                    var open: [TLSTestClient] = []
                    for client in clients {
                        sequence += 1
                        let body = Array("thread \(thread) request \(sequence)".utf8)
                        do {
                            try client.send(ReceiverHarness.request("POST", "/webhooks/orders", body: body))
                            let response = try client.readHTTPResponse(timeout: 20)
                            answers.append(
                                Answer(
                                    status: response.status, deliveryID: deliveryAnswer(response)?.id,
                                    retryAfter: response.header("Retry-After")))
                            if response.header("Connection") != "close" { open.append(client) }
                        } catch {
                            // Closed by the shutdown between requests: no answer is owed.
                        }
                    }
                    clients = open
                }
            }
        }
        let warmedUp = ReceiverHarness.eventually(timeout: .seconds(30)) {
            answers.all.filter { $0.status == 200 }.count >= 40
        }
        #expect(warmedUp)
        harness.process.signal(SIGTERM)
        let status = harness.process.waitForExit(timeout: .seconds(10))
        #expect(status == 0, "\(harness.process.errorOutput)")
        #expect(finished.wait(timeout: .now() + 60) == .success)

        let all = answers.all
        let accepted = all.filter { $0.status == 200 }
        let unavailable = all.filter { $0.status == 503 }
        #expect(accepted.count + unavailable.count == all.count, "\(Set(all.map(\.status)))")
        #expect(unavailable.allSatisfy { $0.retryAfter != nil })
        let acceptedIDs = Set(accepted.compactMap(\.deliveryID))
        #expect(acceptedIDs.count == accepted.count)
        let stored = try harness.query("SELECT id::text FROM deliveries")
        let storedIDs = Set((0..<stored.rowCount).compactMap { stored.string($0, 0) })
        #expect(acceptedIDs.isSubset(of: storedIDs), "\(acceptedIDs.subtracting(storedIDs).count) 200s not stored")
        // A row nobody was told about would be an in-flight request whose answer was dropped.
        #expect(storedIDs.count <= accepted.count + unavailable.count)
        #expect(!harness.logLines("stopped").isEmpty)
    }

    // MARK: - SIGHUP

    @Test func sighupReloadsTheCABundleForNewConnectionsAndKeepsTheOldOneWhenTheNewIsBad() throws {
        let directory = try TestPKI.makeTemporaryDirectory(prefix: "webhookd-e2e-reload")
        defer { try? FileManager.default.removeItem(atPath: directory) }  // A leftover under /tmp harms nothing.
        let bundle = directory + "/client-ca.pem"
        try FileManager.default.copyItem(atPath: pki.clientCABundle, toPath: bundle)
        let harness = try ReceiverHarness(clientCA: bundle)
        func write(_ text: String) throws {
            try text.write(toFile: bundle, atomically: true, encoding: .utf8)
        }
        func deliver(_ files: TestSupportClientFiles) throws -> Int {
            try harness.post("/webhooks/orders", body: Array("reload".utf8), as: files).status
        }
        let request = ReceiverHarness.request("POST", "/webhooks/orders", body: Array("kept".utf8))
        let kept = try harness.client(pki.validClient)
        try kept.send(request)
        #expect(try kept.readHTTPResponse(timeout: 10).status == 200)

        // A bad bundle: the reload fails, the old configuration stays.
        try write("this is not a certificate\n")
        harness.process.signal(SIGHUP)
        let failed = try harness.waitForLog("reload failed")
        #expect(failed.contains("--client-ca"), "\(failed)")
        #expect(try deliver(pki.validClient) == 200)
        #expect(try deliver(pki.secondCAClient) == 200)

        // A bundle without the second CA: its clients' new handshakes are refused; open connections carry on.
        try write(try String(contentsOfFile: pki.rootCA, encoding: .utf8))
        harness.process.signal(SIGHUP)
        try harness.waitForLog("configuration reloaded")
        let (refused, _) = try harness.attempt(pki.secondCAClient, request)
        #expect(refused.failure?.alertText == "tlsv1 alert unknown ca", "\(String(describing: refused.failure))")
        try harness.waitForLog("refused", "reason=unknown_issuer")
        #expect(try ReceiverHarness.eventually { try !harness.rejections().isEmpty })
        let row = try #require(try harness.rejections().first)
        #expect(row.stage == "handshake")
        #expect(row.reason == "unknown_issuer")
        #expect(row.certSHA256 == (try OpenSSLFacts(certificate: pki.secondCAClient.certificatePath).sha256))
        for _ in 1...2 {
            try kept.send(request)
            #expect(try kept.readHTTPResponse(timeout: 10).status == 200)
        }
        #expect(try deliver(pki.validClient) == 200)

        // A CA appended to the bundle is trusted after the next reload, without a restart.
        let (untrustedBefore, _) = try harness.attempt(pki.untrustedClient, request)
        #expect(untrustedBefore.failure != nil)
        try write(
            try String(contentsOfFile: pki.rootCA, encoding: .utf8)
                + String(contentsOfFile: pki.untrustedCA, encoding: .utf8))
        harness.process.signal(SIGHUP)
        #expect(ReceiverHarness.eventually { harness.logLines("configuration reloaded").count == 2 })
        #expect(try deliver(pki.untrustedClient) == 200)
        #expect(harness.process.waitForExit(timeout: .zero) == nil, "the server exited")
    }

    // MARK: - Configuration errors at start

    /// `webhookd serve` with the harness's flags, `overrides` replacing values (flag → value), and `extra`.
    private func serve(
        database: String, overrides: [String: String] = [:], extra: [String] = []
    ) throws -> CommandResult {
        var flags: [(String, String)] = [
            ("--listen", "127.0.0.1:0"), ("--cert", pki.serverCertificate), ("--key", pki.serverKey),
            ("--client-ca", pki.clientCABundle), ("--database-url", database), ("--sql-dir", TestDatabase.sqlDirectory),
            ("--admin-listen", "off"), ("--workers", "1"),
        ]
        flags = flags.map { ($0.0, overrides[$0.0] ?? $0.1) }
        return try TestSupportProcess.runWebhookd(["serve"] + flags.flatMap { [$0.0, $0.1] } + extra)
    }

    /// The stderr lines of a failed start that are the command's own message (log lines are timestamped).
    private func messageLines(_ result: CommandResult) -> [String] {
        result.stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("webhookd: ") }
    }

    @Test func badTLSFilesStopTheStartWithExit64AndOneLineNamingTheFlag() throws {
        let database = try TestDatabase.create()
        let cases: [(overrides: [String: String], flag: String)] = [
            (["--client-ca": pki.leafOnlyBundle], "--client-ca"),
            (["--cert": pki.directory + "/missing-server.crt"], "--cert"),
            (["--key": pki.validClient.keyPath], "--key"),
        ]
        for (overrides, flag) in cases {
            let result = try serve(database: database.url, overrides: overrides)
            #expect(result.status == 64, "\(flag): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(flag): \(result.stderr)")
            #expect(lines.first?.hasPrefix("webhookd: ") == true)
            #expect(lines.first?.contains(flag) == true, "\(flag): \(result.stderr)")
        }
    }

    @Test func unreachableDatabaseStopsTheStartWithExit64NamingTheDatabase() throws {
        let refusing = try RefusingLoopbackPort()
        let url = "postgresql://webhookd:secret@127.0.0.1:\(refusing.port)/webhookd"
        let result = try serve(database: url, extra: ["--database-wait", "1"])
        #expect(result.status == 64, "\(result.stderr)")
        let lines = messageLines(result)
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(lines.first?.contains("database") == true, "\(result.stderr)")
        #expect(!result.stderr.contains("secret"), "the password leaked: \(result.stderr)")
    }

    @Test func unmigratedDatabaseStopsTheStartWithExit64SayingRunMigrate() throws {
        let database = try TestDatabase.create(migrated: false)
        let result = try serve(database: database.url)
        #expect(result.status == 64, "\(result.stderr)")
        let lines = messageLines(result)
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(lines.first?.contains("run webhookd migrate") == true, "\(result.stderr)")
    }

    @Test func devWithItsPortTakenExits64AndLeavesNothingBehind() throws {
        let (listener, port) = try TestSupportSocket.listenOnLoopback()
        defer { close(listener) }
        let directory = try TestPKI.makeTemporaryDirectory(prefix: "webhookd-e2e-dev")
        defer { try? FileManager.default.removeItem(atPath: directory) }  // A leftover under /tmp harms nothing.
        let binary = try TestSupportProcess.webhookdBinary()
        // Run from the empty directory: `dev` creates certs/ and .webhookd/ relative to it.
        let dev = try WebhookdProcess(
            executable: "/bin/sh",
            ["-c", #"cd "$1" && exec "$2" dev --listen "127.0.0.1:$3""#, "sh", directory, binary, String(port)])
        let status = dev.waitForExit(timeout: .seconds(60))
        #expect(status == 64, "\(dev.errorOutput)")
        #expect(dev.errorOutput.contains("\(port)"), "\(dev.errorOutput)")
        #expect(dev.errorOutput.split(separator: "\n").count == 1, "\(dev.errorOutput)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [])
    }

    // MARK: - File descriptors

    @Test func descriptorsReturnToTheBaselineAfterFiftyConnectionsIncludingRefusedOnes() throws {
        let harness = try ReceiverHarness()
        let stranger = try pki.makeClient(cn: "stranger")
        let census = DescriptorCensus(pid: harness.process.pid, port: harness.port)
        let delivery = ReceiverHarness.request("POST", "/webhooks/orders", body: Array("fd".utf8))

        // Warm up what the server opens lazily: the writer session and the bookkeeper's stored rejection.
        let warmedUp = try ReceiverHarness.eventually(timeout: .seconds(30)) {
            let clients = try (0..<8).map { _ in try harness.client(pki.validClient) }
            for client in clients { try client.send(delivery) }
            for client in clients { _ = try client.readHTTPResponse(timeout: 10) }
            return harness.logLines("database writer connected").count == 1
        }
        #expect(warmedUp, "\(harness.process.errorOutput)")
        _ = try harness.attempt(nil, delivery)
        #expect(try ReceiverHarness.eventually { try !harness.rejections().isEmpty })
        // The refused warm-up connection lingers up to ~1.25 s (so its client can read the alert): take the
        // baseline only once the count has held still for longer than that.
        var baseline = try census.take()
        var stableSince = ContinuousClock.now
        let steady = try ReceiverHarness.eventually(timeout: .seconds(15)) {
            let sample = try census.take()
            if sample != baseline {
                baseline = sample
                stableSince = .now
            }
            return ContinuousClock.now - stableSince >= .milliseconds(1_500)
        }
        #expect(steady)
        let expected = baseline.total - baseline.accepted

        for _ in 0..<20 {
            let (outcome, _) = try harness.attempt(pki.validClient, delivery)
            #expect(outcome.response?.status == 200)
        }
        for index in 0..<15 {
            let files = [pki.expiredClient, pki.untrustedClient, nil][index % 3]
            let (outcome, _) = try harness.attempt(files, delivery)
            #expect(outcome.failure != nil)
        }
        for _ in 0..<15 {
            let (outcome, _) = try harness.attempt(chain: stranger.certPath, key: stranger.keyPath, delivery)
            #expect(outcome.response?.status == 403)
        }
        // Every client above is gone; the server closes its side asynchronously.
        var last = baseline
        let settled = try ReceiverHarness.eventually(timeout: .seconds(10)) {
            last = try census.take()
            return last.total == expected
        }
        #expect(settled, "descriptors: \(expected) before, \(last.total) after (\(last.accepted) connections open)")
    }
}

/// Runs `pg_ctl` as the `postgres` user, the way the embedded cluster does.
enum PostgresControl {
    /// The newest `/usr/lib/postgresql/*/bin/pg_ctl`.
    static func pgCtl() throws -> String {
        let versions = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql").compactMap(Int.init)
        for version in versions.sorted(by: >) {
            let path = "/usr/lib/postgresql/\(version)/bin/pg_ctl"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw ReceiverHarness.HarnessFailure("no pg_ctl under /usr/lib/postgresql")
    }

    /// `pg_ctl arguments…` as postgres, from / (it may not read the test's working directory); throws unless it
    /// exits 0.
    static func run(_ arguments: [String]) throws {
        let process = try WebhookdProcess(
            executable: "/usr/sbin/runuser",
            ["-u", "postgres", "--", "/bin/sh", "-c", #"cd / && exec "$@""#, "sh", try pgCtl()] + arguments)
        let status = process.waitForExit(timeout: .seconds(90))
        guard status == 0 else {
            throw ReceiverHarness.HarnessFailure(
                "pg_ctl \(arguments.joined(separator: " ")) exited \(String(describing: status)): "
                    + process.output + process.errorOutput)
        }
    }
}

/// The open descriptors of a process, and how many of them are accepted TCP connections on its listening port
/// (from /proc/<pid>/fd and /proc/net/tcp).
struct DescriptorCensus {
    let pid: Int32
    let port: UInt16

    func take() throws -> (total: Int, accepted: Int) {
        let directory = "/proc/\(pid)/fd"
        let entries = try FileManager.default.contentsOfDirectory(atPath: directory)
        let socketInodes = Set(
            entries.compactMap { entry -> String? in
                // An entry may close between listing and reading; it is then simply not a socket of ours.
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(entry)"),
                    target.hasPrefix("socket:[")
                else { return nil }
                return String(target.dropFirst("socket:[".count).dropLast())
            })
        let table = try String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)
        let portHex = String(format: "%04X", port)
        var accepted = 0
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9 else { continue }
            let isOurPort = fields[1].hasSuffix(":" + portHex)
            let listening = fields[3] == "0A"
            if isOurPort && !listening && socketInodes.contains(String(fields[9])) { accepted += 1 }
        }
        return (entries.count, accepted)
    }
}
