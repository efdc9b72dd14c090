import Foundation
import Operations
import Postgres
import Receiver
import TLS
import TestSupport
import Testing

/// The admin listener of the real `webhookd serve` (SPEC "Admin listener"): `/metrics` moves as
/// deliveries and refusals happen, `/readyz` follows the database, and the logs stay machine-readable
/// and free of bodies.
@Suite("Admin listener and logs end to end", .serialized)
struct AdminTests {
    @Test func metricsMoveWithDeliveriesDuplicatesRefusalsAndRefusedHandshakes() throws {
        let harness = try ReceiverHarness(adminListen: "127.0.0.1:0")
        let admin = try #require(harness.adminPort)

        let before = try scrape(admin)
        let server = try #require(
            before.value(
                "webhookd_certificate_expiry_seconds",
                ["kind": "server", "subject": try serverSubject(harness.pki.serverCertificate)]))
        #expect(server > 0)
        #expect(!before.series("webhookd_certificate_expiry_seconds").filter { $0.key.contains(#"kind="ca""#) }.isEmpty)
        #expect(before.value("webhookd_open_connections") != nil)

        for index in 0..<3 {
            let response = try harness.post(
                "/webhooks/orders", body: Array("delivery \(index)".utf8), headers: [("webhook-id", "admin-\(index)")])
            #expect(response.status == 200)
        }
        let repeated = try harness.post(
            "/webhooks/orders", body: Array("again".utf8), headers: [("webhook-id", "admin-0")])
        #expect(deliveryAnswer(repeated)?.duplicate == true)
        let forbidden = try harness.post("/webhooks/refunds", body: Array("no".utf8))
        #expect(forbidden.status == 403)
        // No certificate: under TLS 1.3 the client's side of the handshake may complete; the server's alert
        // then arrives on the first read instead of an HTTP answer.
        if let anonymous = try? harness.client(nil) {
            #expect(throws: (any Error).self) { try anonymous.get("/webhooks/orders") }
        }

        let refusedKey = ["reason": "no_certificate", "result": "refused"]
        var after = try scrape(admin)
        // The refused handshake and the client's expiry (written by the bookkeeper) land a moment later.
        _ = try ReceiverHarness.eventually {
            after = try scrape(admin)
            return after.value("webhookd_handshakes_total", refusedKey) != nil
                && after.value("webhookd_client_certificate_expiry_seconds", ["client": "acme"]) != nil
        }
        func moved(_ name: String, _ labels: [String: String] = [:]) -> Double {
            (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0)
        }
        #expect(moved("webhookd_deliveries_committed_total") == 3)
        #expect(moved("webhookd_duplicates_total") == 1)
        #expect(moved("webhookd_requests_total", ["endpoint": "orders", "status": "200"]) == 4)
        #expect(moved("webhookd_requests_total", ["endpoint": "", "status": "403"]) == 1)
        #expect(moved("webhookd_handshakes_total", refusedKey) == 1)
        #expect(moved("webhookd_handshakes_total", ["reason": "none", "result": "accepted"]) == 5)
        #expect(moved("webhookd_request_seconds_count") == 5)
        // Every delivery goes through a batch, the duplicate too (its INSERT finds the key and stores nothing).
        #expect(moved("webhookd_commit_batch_size_sum") == 4)
        #expect(moved("webhookd_commit_seconds_count") >= 1)
        #expect(after.value("webhookd_database_errors_total") == 0)
        let clientExpiry = try #require(after.value("webhookd_client_certificate_expiry_seconds", ["client": "acme"]))
        #expect(clientExpiry > 0)
        #expect(harness.stop() == 0)
    }

    @Test func healthReadinessUnknownPathsAndMethods() throws {
        let harness = try ReceiverHarness(adminListen: "127.0.0.1:0")
        let admin = try #require(harness.adminPort)
        let health = try adminRequest(admin, "/healthz")
        #expect(health.status == 200)
        #expect(health.body == #"{"status":"alive"}"#)
        #expect(try ReceiverHarness.eventually { try adminRequest(admin, "/readyz").status == 200 })
        #expect(try adminRequest(admin, "/readyz").body == #"{"status":"ready"}"#)
        let metrics = try adminRequest(admin, "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.contentType.hasPrefix("text/plain; version=0.0.4"))
        #expect(try adminRequest(admin, "/webhooks/orders").status == 404)
        #expect(try adminRequest(admin, "/metrics", method: "POST").status == 405)
        #expect(harness.stop() == 0)
    }

    @Test func readyzIs503WhilePostgresIsStoppedAnd200WhenItIsBack() throws {
        let cluster = try OwnCluster()
        defer { cluster.release() }
        let server = try AdminServerProcess(databaseURL: cluster.url)
        let admin = try #require(server.adminPort)
        #expect(try ReceiverHarness.eventually { try adminRequest(admin, "/readyz").status == 200 })

        try cluster.stopServer()
        var down = try adminRequest(admin, "/readyz")
        #expect(
            try ReceiverHarness.eventually {
                down = try adminRequest(admin, "/readyz")
                return down.status == 503
            })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(down.body.utf8)) as? [String: String])
        #expect(object["status"] == "unavailable")
        #expect(object["reason"]?.hasPrefix("database unreachable") == true)
        #expect(try adminRequest(admin, "/healthz").status == 200)

        try cluster.startServer()
        #expect(
            try ReceiverHarness.eventually(timeout: .seconds(20)) { try adminRequest(admin, "/readyz").status == 200 })
        #expect(server.stop() == 0)
    }

    @Test func jsonLogLinesParseAndRequestLinesCarryNoBodyOrHeaderValues() throws {
        let database = try TestDatabase.create()
        let connection = try database.connect()
        _ = try ClientRegistry(connection: connection).add(
            clientID: "acme", endpoints: ["orders"], description: "", pins: [], issuers: [])
        connection.close()
        let server = try AdminServerProcess(
            databaseURL: database.url, extraArguments: ["--log-format", "json", "--log-requests"])
        let pki = TestPKI.shared
        let client = try TLSTestClient(
            port: server.port, certificateChainPath: pki.validClient.chainPath, keyPath: pki.validClient.keyPath,
            trustedCAPath: pki.rootCA)
        try client.handshake()
        let body = Array(#"{"secret":"BODY-MARKER-7f3a"}"#.utf8)
        try client.send(
            ReceiverHarness.request(
                "POST", "/webhooks/orders?token=QUERY-MARKER", body: body,
                headers: [("X-Signature", "HEADER-MARKER-91c2")]))
        let response = try client.readHTTPResponse(timeout: 10)
        let answer = try #require(deliveryAnswer(response))

        _ = try server.process.waitForLine(containing: #""msg":"request""#, timeout: .seconds(10))
        var requestLine: [String: String]?
        for line in server.process.errorOutput.split(separator: "\n") {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "not JSON: \(line)")
            #expect(object["ts"] != nil && object["level"] != nil && object["msg"] != nil)
            if object["msg"] == "request" { requestLine = object }
            #expect(!line.contains("BODY-MARKER") && !line.contains("HEADER-MARKER") && !line.contains("QUERY-MARKER"))
        }
        let request = try #require(requestLine)
        #expect(request["method"] == "POST")
        #expect(request["path"] == "/webhooks/orders")
        #expect(request["status"] == "200")
        #expect(request["client"] == "acme")
        #expect(request["endpoint"] == "orders")
        #expect(request["bytes"] == "\(body.count)")
        #expect(request["delivery_id"] == answer.id)
        #expect(request["duration_ms"].flatMap(Double.init) != nil)
        #expect(server.stop() == 0)
    }

    @Test func adminPortInUseStopsTheStartWithExit64NamingTheFlag() throws {
        let (descriptor, port) = try TestSupportSocket.listenOnLoopback()
        defer { close(descriptor) }
        let database = try TestDatabase.create()
        let result = try TestSupportProcess.runWebhookd(
            AdminServerProcess.arguments(databaseURL: database.url, adminListen: "127.0.0.1:\(port)"))
        #expect(result.status == 64)
        #expect(result.stderr.contains("--admin-listen 127.0.0.1:\(port)"))
        let bad = try TestSupportProcess.runWebhookd(
            AdminServerProcess.arguments(databaseURL: database.url, adminListen: "nowhere"))
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("--admin-listen"))
    }
}

@Suite("Admin port under load", .serialized)
struct AdminBackpressureTests {
    static func residentKiB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    @Test func pipelinedScrapesThatAreNotReadDoNotPileUpInMemoryAndAreAllAnsweredInOrder() throws {
        let harness = try ReceiverHarness(adminListen: "127.0.0.1:0")
        let admin = try #require(harness.adminPort)
        let fd = try TestSupportSocket.connectToLoopback(port: admin)
        defer { close(fd) }
        let count = 3_000
        let request = Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        let before = Self.residentKiB(harness.process.pid)
        // Written from another thread: once the server stops reading, our writes block in the kernel.
        let writer = Thread {
            for _ in 0..<count {
                _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
        }
        writer.start()
        usleep(2_000_000)
        let during = Self.residentKiB(harness.process.pid)
        // Thousands of unread /metrics answers would be tens of MiB; backpressure keeps it to a few.
        #expect(during - before < 16 * 1024, "RSS grew from \(before) KiB to \(during) KiB")
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var answers = 0
        let marker = Array("HTTP/1.1 200".utf8)
        let deadline = ContinuousClock.now + .seconds(60)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while answers < count && ContinuousClock.now < deadline {
            let got = recv(fd, &buffer, buffer.count, 0)
            guard got > 0 else { break }
            received += buffer[0..<got]
            // Count complete status lines and keep only an unfinished tail.
            var index = 0
            while index + marker.count <= received.count {
                if received[index..<(index + marker.count)].elementsEqual(marker) {
                    answers += 1
                    index += marker.count
                } else {
                    index += 1
                }
            }
            received = Array(received.suffix(marker.count - 1))
        }
        #expect(answers == count)
    }

    @Test func theEndpointLabelTakesOnlyEndpointsGrantedByName() throws {
        let harness = try ReceiverHarness(clients: ["acme": ["orders", "*"]], adminListen: "127.0.0.1:0")
        let admin = try #require(harness.adminPort)
        #expect(try harness.post("/webhooks/orders", body: [1]).status == 200)
        for index in 0..<20 { #expect(try harness.post("/webhooks/minted-\(index)", body: [1]).status == 200) }
        let series = try scrape(admin).series("webhookd_requests_total").map(\.key)
        #expect(series.contains { $0.contains(#"endpoint="orders""#) })
        #expect(series.contains { $0.contains(#"endpoint="*""#) })
        #expect(!series.contains { $0.contains("minted") }, "\(series)")
    }

    @Test func theAdminPortTakesAFewConnectionsAndRefusesMore() throws {
        let harness = try ReceiverHarness(adminListen: "127.0.0.1:0")
        let admin = try #require(harness.adminPort)
        var idle: [Int32] = []
        defer { idle.forEach { close($0) } }
        for _ in 0..<8 { idle.append(try TestSupportSocket.connectToLoopback(port: admin)) }
        usleep(200_000)
        #expect(try adminRequest(admin, "/healthz").status == 0)  // closed at once
        close(idle.removeLast())
        // The server notices the close on its next loop turn; a busy box may take a moment.
        #expect(
            ReceiverHarness.eventually(timeout: .seconds(10)) { (try? adminRequest(admin, "/healthz").status) == 200 })
    }
}

// MARK: - Helpers

/// `GET` (or `method`) on the admin listener with curl: status, content type and body.
private func adminRequest(
    _ port: UInt16, _ path: String, method: String = "GET"
) throws -> (status: Int, contentType: String, body: String) {
    let curl = try WebhookdProcess(
        executable: "/usr/bin/curl",
        [
            "-sS", "--max-time", "5", "-X", method, "-o", "-", "-w", "\n%{http_code} %{content_type}",
            "http://127.0.0.1:\(port)\(path)",
        ])
    _ = curl.waitForExit(timeout: .seconds(10))
    var lines = curl.output.split(separator: "\n", omittingEmptySubsequences: false)
    let trailer = lines.popLast() ?? ""
    let status = Int(trailer.prefix { $0.isNumber }) ?? 0
    let contentType = String(trailer.drop { $0.isNumber }.drop { $0 == " " })
    return (status, contentType, lines.joined(separator: "\n"))
}

/// One `/metrics` scrape, parsed.
private func scrape(_ port: UInt16) throws -> PrometheusSamples {
    let response = try adminRequest(port, "/metrics")
    try #require(response.status == 200)
    return try PrometheusSamples(parsing: response.body)
}

/// The RFC 4514 subject of a certificate, as webhookd reports it.
private func serverSubject(_ path: String) throws -> String {
    try OpenSSLFacts(certificate: path).subject
}

/// A `webhookd serve` on port 0 with an admin listener on port 0, for tests that need a database of
/// their own or a log format the harness does not parse.
private final class AdminServerProcess {
    let process: WebhookdProcess
    let port: UInt16
    let adminPort: UInt16?

    static func arguments(databaseURL: String, adminListen: String = "127.0.0.1:0") -> [String] {
        let pki = TestPKI.shared
        return [
            "serve", "--listen", "127.0.0.1:0", "--cert", pki.serverCertificate, "--key", pki.serverKey,
            "--client-ca", pki.clientCABundle, "--database-url", databaseURL, "--sql-dir", TestDatabase.sqlDirectory,
            "--workers", "2", "--admin-listen", adminListen, "--database-wait", "10",
        ]
    }

    init(databaseURL: String, extraArguments: [String] = []) throws {
        process = try WebhookdProcess(Self.arguments(databaseURL: databaseURL) + extraArguments)
        let line = try process.waitForLine(containing: "webhookd listening", timeout: .seconds(60))
        guard let port = Self.port(after: "listen", in: line) else {
            throw ReceiverHarness.HarnessFailure("no port in: \(line)")
        }
        self.port = port
        adminPort = Self.port(after: "admin", in: line)
    }

    /// The port of `KEY=127.0.0.1:PORT` (text) or `"KEY":"127.0.0.1:PORT"` (JSON) in a log line.
    static func port(after key: String, in line: String) -> UInt16? {
        for prefix in ["\(key)=127.0.0.1:", "\"\(key)\":\"127.0.0.1:"] {
            if let range = line.range(of: prefix) {
                return UInt16(line[range.upperBound...].prefix { $0.isNumber })
            }
        }
        return nil
    }

    /// SIGTERM and the exit status (nil: still running after 15 s; the process's deinit kills it).
    func stop() -> Int32? {
        process.signal(SIGTERM)
        return process.waitForExit(timeout: .seconds(15))
    }
}

/// A PostgreSQL cluster of this test's own (so stopping it harms no other test), migrated, that can be
/// stopped and started again on the same port.
private final class OwnCluster {
    let directory: String
    let lease: EmbeddedClusterLease
    let url: String

    init() throws {
        directory = try TestCluster.makeReachableDirectory()
        var cluster = EmbeddedCluster(dataDirectory: directory)
        cluster.serverSettings = ["fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"]
        cluster.initdbArguments = ["--no-sync"]
        lease = try cluster.start()
        let parameters = lease.connectionParameters()
        let connection = try PGConnection(parameters: parameters, applicationName: "webhookd-tests")
        defer { connection.close() }
        try Migrator(directory: TestDatabase.sqlDirectory).apply(on: connection)
        let password = (parameters["password"] ?? "").addingPercentEncoding(withAllowedCharacters: .alphanumerics)
        url =
            "postgresql://\(EmbeddedCluster.user):\(password ?? "")@127.0.0.1:\(lease.port)/\(EmbeddedCluster.database)"
    }

    /// `pg_ctl stop -m fast`, as the postgres user.
    func stopServer() throws {
        try pgCtl(["-D", directory + "/postgres", "-m", "fast", "-w", "-t", "30", "stop"])
    }

    /// `pg_ctl start` on the same port, as the postgres user.
    func startServer() throws {
        try pgCtl([
            "-D", directory + "/postgres", "-l", directory + "/postgres/restart.log", "-w", "-t", "60", "-o",
            "-p \(lease.port) -c listen_addresses=127.0.0.1 -c unix_socket_directories=''", "start",
        ])
    }

    func release() {
        lease.release()
        // A leftover directory under /tmp harms nothing, so a failed removal is not worth reporting.
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func pgCtl(_ arguments: [String]) throws {
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted(by: >)
        let pgCtl = try #require(
            versions.map { "/usr/lib/postgresql/\($0)/bin/pg_ctl" }.first {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        // From /, so a working directory the postgres user cannot read does not matter.
        let process = try WebhookdProcess(
            executable: "/bin/sh",
            ["-c", #"cd / && exec /usr/sbin/runuser -u postgres -- "$@""#, "sh", pgCtl] + arguments)
        let status = process.waitForExit(timeout: .seconds(90))
        try #require(status == 0, "pg_ctl \(arguments.last ?? "") failed: \(process.output) \(process.errorOutput)")
    }
}
