import Glibc
package import TLS

/// A TLS client for tests, built on the TLS module's own client side (OpenSSL underneath): connects to
/// 127.0.0.1, optionally presents a certificate, trusts the test CA for the server, can resume a session,
/// and reads Content-Length framed HTTP responses.
///
/// Under TLS 1.3 the client finishes its handshake before the server has checked its certificate, so a refusal
/// shows up on the first read as an alert (`Failure.alert`), e.g. "tlsv13 alert certificate required" or
/// "sslv3 alert certificate expired". Under TLS 1.2 it shows up in `handshake()`.
package final class TLSTestClient {
    /// Why a client operation failed.
    package enum Failure: Error, CustomStringConvertible {
        /// The TLS layer failed; `alert` is the first OpenSSL reason the client saw.
        case alert(String, detail: String)
        /// The server closed the connection without an answer.
        case closed
        /// Nothing arrived in time.
        case timeout
        /// A socket-level problem.
        case socket(String)
        /// The bytes were not an HTTP response.
        case malformed(String)

        /// A one-line description.
        package var description: String {
            switch self {
            case .alert(let alert, let detail): "alert: \(alert) (\(detail))"
            case .closed: "closed"
            case .timeout: "timeout"
            case .socket(let text): "socket: \(text)"
            case .malformed(let text): "malformed: \(text)"
            }
        }

        /// The alert text, when this is an alert.
        package var alertText: String? {
            if case .alert(let alert, _) = self { alert } else { nil }
        }
    }

    /// A Content-Length framed HTTP response.
    package struct HTTPResponse: Sendable {
        /// The status code.
        package let status: Int
        /// Header fields in arrival order.
        package let headers: [(name: String, value: String)]
        /// The body bytes.
        package let body: [UInt8]
        /// The body as UTF-8 text.
        package var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    /// The underlying connection (protocol, cipher, session).
    package let connection: TLSConnection
    private let fd: Int32
    private var buffered: [UInt8] = []

    /// Connects (blocking) and prepares a TLS client; call `handshake()` next.
    package init(
        port: UInt16, certificateChainPath: String? = nil, keyPath: String? = nil, trustedCAPath: String,
        maximumVersion: TLSProtocolVersion? = nil, resuming session: TLSSession? = nil
    ) throws {
        let context = try TLSClientContext(
            configuration: TLSClientConfiguration(
                certificateChainPath: certificateChainPath, privateKeyPath: keyPath, trustedCAPath: trustedCAPath,
                maximumVersion: maximumVersion))
        let fd = try TestSupportSocket.connectToLoopback(port: port)
        do {
            try TestSupportSocket.setNonBlocking(fd)
            connection = try TLSConnection(
                clientContext: context, fileDescriptor: fd, serverName: "127.0.0.1", resuming: session)
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    /// Runs the handshake to completion or failure (bounded by `timeout` seconds).
    @discardableResult
    package func handshake(timeout: Int = 5) throws(Failure) -> TLSConnection {
        let deadline = Self.now() + Double(timeout)
        while true {
            switch connection.handshake() {
            case .complete: return connection
            case .wantRead: try waitFor(reading: true, until: deadline)
            case .wantWrite: try waitFor(reading: false, until: deadline)
            case .failed(let failure):
                throw .alert(failure.openSSLErrors.first?.reason ?? failure.detail, detail: failure.detail)
            }
        }
    }

    /// Sends all bytes.
    package func send(_ bytes: [UInt8], timeout: Int = 5) throws(Failure) {
        let deadline = Self.now() + Double(timeout)
        var offset = 0
        while offset < bytes.count {
            let status = bytes.withUnsafeBytes { connection.write(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            switch status {
            case .bytes(let count): offset += count
            case .wantRead: try waitFor(reading: true, until: deadline)
            case .wantWrite: try waitFor(reading: false, until: deadline)
            case .closed: throw .closed
            case .failed(let error): throw .alert(error.openSSLReason ?? error.message, detail: error.debugDescription)
            }
        }
    }

    /// Receives the next chunk of bytes (at least one), or throws the alert, `.closed` or `.timeout`.
    package func receive(timeout: Int = 5) throws(Failure) -> [UInt8] {
        if !buffered.isEmpty {
            defer { buffered = [] }
            return buffered
        }
        let deadline = Self.now() + Double(timeout)
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let status = chunk.withUnsafeMutableBytes { connection.read(into: $0) }
            switch status {
            case .bytes(let count): return Array(chunk[0..<count])
            case .wantRead: try waitFor(reading: true, until: deadline)
            case .wantWrite: try waitFor(reading: false, until: deadline)
            case .closed: throw .closed
            case .failed(let error): throw .alert(error.openSSLReason ?? error.message, detail: error.debugDescription)
            }
        }
    }

    /// Reads one Content-Length framed HTTP response.
    package func readHTTPResponse(timeout: Int = 5) throws(Failure) -> HTTPResponse {
        var data: [UInt8] = []
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int? = nil
        while headEnd == nil {
            data += try receive(timeout: timeout)
            if data.count >= 4 {
                headEnd = (0...(data.count - 4)).first { Array(data[$0..<$0 + 4]) == separator }
            }
        }
        guard let headEnd else { throw .malformed("no head") }
        let head = String(decoding: data[0..<headEnd], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw .malformed(head) }
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingSpaces())
        }
        let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        var body = Array(data[(headEnd + 4)...])
        while body.count < length {
            body += try receive(timeout: timeout)
        }
        if body.count > length {
            buffered = Array(body[length...])
            body = Array(body[..<length])
        }
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    /// Handshake, a GET request, and the response; a refusal at any stage is thrown as its `Failure`.
    package func get(_ path: String = "/", timeout: Int = 5) throws(Failure) -> HTTPResponse {
        try handshake(timeout: timeout)
        do {
            try send(Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8), timeout: timeout)
        } catch {
            // Under TLS 1.3 the server's refusal may already be waiting: surface the alert, not the write error.
            _ = try readHTTPResponse(timeout: timeout)
            throw error
        }
        return try readHTTPResponse(timeout: timeout)
    }

    /// Sends close_notify (best effort).
    package func shutdown() {
        connection.shutdown()
    }

    private func waitFor(reading: Bool, until deadline: Double) throws(Failure) {
        let remaining = Int32(max(0, (deadline - Self.now()) * 1000))
        guard remaining > 0, TestSupportSocket.wait(fd, forWriting: !reading, timeoutMilliseconds: remaining) else {
            throw .timeout
        }
    }

    private static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        String(self).trimmingSpaces()
    }
}
