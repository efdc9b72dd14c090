import Foundation
import Postgres
import Receiver
import TLS
import TestSupport
import Testing

/// One `webhookd serve` process on 127.0.0.1 port 0, its own fresh database, and the per-run test PKI.
/// Tests talk to it with the Swift OpenSSL client (`TLSTestClient`) and with curl.
final class ReceiverHarness {
    let database: TestDatabase
    let pki = TestPKI.shared
    let process: WebhookdProcess
    let port: UInt16
    /// The admin listener's port, when `adminListen` was not "off" (read from the listening line).
    let adminPort: UInt16?

    /// Registers `clients` (id → endpoints) and starts the server.
    /// - Parameter adminListen: `--admin-listen`; "off" by default, "127.0.0.1:0" for an admin port.
    init(
        clients: [String: [String]] = ["acme": ["orders"]], crls: [String] = [], extraArguments: [String] = [],
        database: TestDatabase? = nil, adminListen: String = "off"
    ) throws {
        self.database = try database ?? TestDatabase.create()
        let connection = try self.database.connect()
        defer { connection.close() }
        let registry = ClientRegistry(connection: connection)
        for (id, endpoints) in clients.sorted(by: { $0.key < $1.key }) {
            _ = try registry.add(clientID: id, endpoints: endpoints, description: "", pins: [], issuers: [])
        }
        var arguments = [
            "serve", "--listen", "127.0.0.1:0", "--cert", pki.serverCertificate, "--key", pki.serverKey,
            "--client-ca", pki.clientCABundle, "--database-url", self.database.url, "--sql-dir",
            TestDatabase.sqlDirectory, "--workers", "2", "--admin-listen", adminListen,
        ]
        for crl in crls { arguments += ["--crl", crl] }
        process = try WebhookdProcess(arguments + extraArguments)
        let line = try process.waitForLine(containing: "webhookd listening", timeout: .seconds(60))
        guard let range = line.range(of: "listen=127.0.0.1:"),
            let port = UInt16(line[range.upperBound...].prefix { $0.isNumber })
        else {
            throw HarnessFailure("no port in: \(line)")
        }
        self.port = port
        if let range = line.range(of: "admin=127.0.0.1:") {
            adminPort = UInt16(line[range.upperBound...].prefix { $0.isNumber })
        } else {
            adminPort = nil
        }
    }

    struct HarnessFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// A registry on this server's database.
    func withRegistry<T>(_ body: (ClientRegistry) throws -> T) throws -> T {
        let connection = try database.connect()
        defer { connection.close() }
        return try body(ClientRegistry(connection: connection))
    }

    /// Runs a query on this server's database.
    func query(_ sql: String, _ parameters: [PGValue] = []) throws -> PGResult {
        let connection = try database.connect()
        defer { connection.close() }
        return try connection.query(sql, parameters)
    }

    /// A connected, handshaken client presenting `files` (nil: no certificate).
    func client(_ files: TestSupportClientFiles?) throws -> TLSTestClient {
        let client = try TLSTestClient(
            port: port, certificateChainPath: files?.chainPath, keyPath: files?.keyPath, trustedCAPath: pki.rootCA)
        try client.handshake()
        return client
    }

    /// A raw HTTP/1.1 request.
    static func request(
        _ method: String = "POST", _ path: String, body: [UInt8] = [], headers: [(String, String)] = [],
        contentLength: Bool = true
    ) -> [UInt8] {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if contentLength { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        return Array(text.utf8) + body
    }

    /// Sends one request on a new connection and reads the answer.
    func post(
        _ path: String, body: [UInt8], headers: [(String, String)] = [], as files: TestSupportClientFiles? = nil
    ) throws -> TLSTestClient.HTTPResponse {
        let client = try client(files ?? pki.validClient)
        try client.send(Self.request("POST", path, body: body, headers: headers))
        return try client.readHTTPResponse(timeout: 10)
    }

    /// Waits (bounded) until the server's log has a line containing every one of `fragments`.
    @discardableResult
    func waitForLog(_ fragments: String..., timeout: Duration = .seconds(10)) throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            for line in process.errorOutput.split(separator: "\n") where fragments.allSatisfy({ line.contains($0) }) {
                return String(line)
            }
            if ContinuousClock.now >= deadline {
                throw HarnessFailure("no log line with \(fragments) in:\n\(process.errorOutput)")
            }
            usleep(20_000)
        }
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes.
    static func eventually(timeout: Duration = .seconds(10), _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    /// Runs curl against this server; returns (HTTP status, body, stderr).
    func curl(_ arguments: [String], path: String) throws -> (status: Int, body: String, stderr: String) {
        let curl = try WebhookdProcess(
            executable: "/usr/bin/curl",
            ["-sS", "--max-time", "20", "--cacert", pki.rootCA, "-o", "-", "-w", "\n%{http_code}"] + arguments
                + ["https://localhost:\(port)\(path)"])
        _ = curl.waitForExit(timeout: .seconds(30))
        var lines = curl.output.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.popLast() ?? "") ?? 0
        return (status, lines.joined(separator: "\n"), curl.errorOutput)
    }

    /// SIGTERM and the exit status.
    func stop() -> Int32? {
        process.signal(SIGTERM)
        return process.waitForExit(timeout: .seconds(15))
    }
}

/// Parses `{"delivery_id":"…","duplicate":…}`.
func deliveryAnswer(_ response: TLSTestClient.HTTPResponse) -> (id: String, duplicate: Bool)? {
    guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
        let id = object["delivery_id"] as? String, let duplicate = object["duplicate"] as? Bool
    else { return nil }
    return (id, duplicate)
}
