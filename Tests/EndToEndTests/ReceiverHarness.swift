import Foundation
import Operations
import Postgres
import Receiver
import TLS
import TestSupport
import Testing

/// One `webhookd serve` process on 127.0.0.1 port 0, its own fresh database, and the per-run test PKI.
/// Tests talk to it with the Swift OpenSSL client (`TLSTestClient`) and with curl.
final class ReceiverHarness {
    /// libpq parameters (with `dbname`) of the server's database.
    let databaseParameters: [String: String]
    let pki = TestPKI.shared
    let process: WebhookdProcess
    let port: UInt16
    /// The admin listener's port, when `adminListen` was not "off" (read from the listening line).
    let adminPort: UInt16?

    /// OpenSSL writes with plain write(2): a server that closes first must not kill the test process.
    private static let ignoringSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// Registers `clients` (id → endpoints) and starts the server on `database` (a fresh one when nil).
    /// - Parameter adminListen: `--admin-listen`; "off" by default, "127.0.0.1:0" for an admin port.
    convenience init(
        clients: [String: [String]] = ["acme": ["orders"]], crls: [String] = [], extraArguments: [String] = [],
        database: TestDatabase? = nil, clientCA: String? = nil, adminListen: String = "off"
    ) throws {
        let database = try database ?? TestDatabase.create()
        try self.init(
            clients: clients, crls: crls, extraArguments: extraArguments, databaseURL: database.url,
            databaseParameters: database.parameters, clientCA: clientCA, adminListen: adminListen)
    }

    /// Registers `clients` and starts the server on the database at `databaseURL` (already migrated).
    init(
        clients: [String: [String]], crls: [String] = [], extraArguments: [String] = [], databaseURL: String,
        databaseParameters: [String: String], clientCA: String? = nil, adminListen: String = "off"
    ) throws {
        _ = Self.ignoringSIGPIPE
        self.databaseParameters = databaseParameters
        let connection = try PGConnection(parameters: databaseParameters, applicationName: "webhookd-tests")
        defer { connection.close() }
        let registry = ClientRegistry(connection: connection)
        for (id, endpoints) in clients.sorted(by: { $0.key < $1.key }) {
            _ = try registry.add(clientID: id, endpoints: endpoints, description: "", pins: [], issuers: [])
        }
        var arguments = [
            "serve", "--listen", "127.0.0.1:0", "--cert", pki.serverCertificate, "--key", pki.serverKey,
            "--client-ca", clientCA ?? pki.clientCABundle, "--database-url", databaseURL, "--sql-dir",
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
    @discardableResult
    func withRegistry<T>(_ body: (ClientRegistry) throws -> T) throws -> T {
        let connection = try connect()
        defer { connection.close() }
        return try body(ClientRegistry(connection: connection))
    }

    /// Runs a query on this server's database.
    func query(_ sql: String, _ parameters: [PGValue] = []) throws -> PGResult {
        let connection = try connect()
        defer { connection.close() }
        return try connection.query(sql, parameters)
    }

    /// A new session on this server's database.
    func connect() throws -> PGConnection {
        try PGConnection(parameters: databaseParameters, applicationName: "webhookd-tests")
    }

    /// A connected, handshaken client presenting `files` (nil: no certificate).
    func client(_ files: TestSupportClientFiles?) throws -> TLSTestClient {
        let client = try TLSTestClient(
            port: port, certificateChainPath: files?.chainPath, keyPath: files?.keyPath, trustedCAPath: pki.rootCA)
        try client.handshake()
        return client
    }

    /// A connected client presenting the certificate chain at `chain` (handshake not run yet).
    func unstartedClient(chain: String?, key: String?) throws -> TLSTestClient {
        try TLSTestClient(port: port, certificateChainPath: chain, keyPath: key, trustedCAPath: pki.rootCA)
    }

    /// A new connection presenting `chain`/`key` (nil: no certificate) that sends `request`: the HTTP
    /// answer, or how the connection failed (a refused handshake shows as an alert at the handshake or,
    /// under TLS 1.3, at the first read). The client is returned too, to look at the connection afterwards.
    func attempt(chain: String?, key: String?, _ request: [UInt8]) throws -> (
        outcome: Result<TLSTestClient.HTTPResponse, TLSTestClient.Failure>, client: TLSTestClient
    ) {
        let client = try unstartedClient(chain: chain, key: key)
        let outcome = Result { () throws(TLSTestClient.Failure) in
            try client.handshake(timeout: 10)
            do throws(TLSTestClient.Failure) {
                try client.send(request, timeout: 10)
            } catch {
                // The server's refusal may already be waiting: surface it rather than the write error.
                _ = try client.readHTTPResponse(timeout: 10)
                throw error
            }
            return try client.readHTTPResponse(timeout: 10)
        }
        return (outcome, client)
    }

    /// `attempt(chain:key:_:)` with a test client's files (nil: no certificate).
    func attempt(_ files: TestSupportClientFiles?, _ request: [UInt8]) throws -> (
        outcome: Result<TLSTestClient.HTTPResponse, TLSTestClient.Failure>, client: TLSTestClient
    ) {
        try attempt(chain: files?.chainPath, key: files?.keyPath, request)
    }

    /// The `rejections` rows so far, oldest first.
    func rejections() throws -> [RejectionRow] {
        let result = try query(
            """
            SELECT stage, reason, cert_sha256, endpoint, client_id, host(remote_addr), detail FROM rejections
            ORDER BY id
            """)
        return (0..<result.rowCount).map { row in
            RejectionRow(
                stage: result.string(row, 0) ?? "", reason: result.string(row, 1) ?? "",
                certSHA256: result.string(row, 2), endpoint: result.string(row, 3), clientID: result.string(row, 4),
                remoteAddress: result.string(row, 5), detail: result.string(row, 6))
        }
    }

    /// The number of rows in `deliveries`.
    func deliveryCount() throws -> Int {
        Int(try query("SELECT count(*) FROM deliveries").string(0, 0) ?? "") ?? -1
    }

    /// The server's log lines that contain every one of `fragments`.
    func logLines(_ fragments: String...) -> [String] {
        process.errorOutput.split(separator: "\n").filter { line in fragments.allSatisfy { line.contains($0) } }
            .map(String.init)
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

/// One row of `rejections`.
struct RejectionRow: Equatable {
    var stage: String
    var reason: String
    var certSHA256: String?
    var endpoint: String?
    var clientID: String?
    var remoteAddress: String?
    var detail: String?
}

/// Whether the server has closed `client`'s connection: the next read ends (close_notify, EOF or reset)
/// instead of timing out.
func connectionIsClosed(_ client: TLSTestClient, timeout: Int = 5) -> Bool {
    do {
        _ = try client.receive(timeout: timeout)
        return false
    } catch {
        if case .timeout = error { return false }
        return true
    }
}

/// Parses a JSON error body `{"error":"…","message":"…"}`: exactly those two string fields, both non-empty.
func errorBody(_ response: TLSTestClient.HTTPResponse) -> (error: String, message: String)? {
    guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
        object.count == 2, let error = object["error"] as? String, let message = object["message"] as? String,
        !error.isEmpty, !message.isEmpty
    else { return nil }
    return (error, message)
}

extension TLSTestClient.HTTPResponse {
    /// The first value of header `name` (case-insensitive).
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

extension Result where Failure == TLSTestClient.Failure {
    /// The response, or nil when the connection failed.
    var response: Success? { try? get() }
    /// The failure, or nil when an HTTP answer came.
    var failure: Failure? {
        if case .failure(let failure) = self { failure } else { nil }
    }
}
