import Dispatch
import Foundation
import Glibc
import Synchronization
package import TLS

/// What the test server saw on one connection.
package struct TestSupportServerOutcome: Sendable {
    /// `nil` when the handshake completed.
    package let failure: TLSHandshakeFailure?
    /// The verified peer after a completed handshake.
    package let peer: PeerCertificate?
    /// The negotiated protocol and cipher ("" after a failure).
    package let protocolVersion: String
    package let cipherName: String
    /// Whether the session was resumed.
    package let isSessionReused: Bool
}

/// A one-thread TLS server on 127.0.0.1 port 0 for tests: each accepted connection is driven through
/// `TLSContext` + `TLSConnection` on a non-blocking socket with `poll`, answers one HTTP request with
/// `200` and the client's CN as body, and records an outcome.
package final class TestSupportTLSServer: Sendable {
    /// The port to connect to.
    package let port: UInt16
    private let listenFD: Int32
    private let outcomes = Mutex<[TestSupportServerOutcome]>([])
    private let arrived = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts serving `connections` connections, then stops.
    package init(context: TLSContext, connections: Int = 1) throws {
        let (fd, port) = try TestSupportSocket.listenOnLoopback()
        self.listenFD = fd
        self.port = port
        let thread = Thread { [self] in
            for _ in 0..<connections {
                guard TestSupportSocket.wait(fd, timeoutMilliseconds: 10_000) else { break }
                let client = accept(fd, nil, nil)
                guard client >= 0 else { break }
                let outcome = Self.serve(client, context: context)
                Self.lingeringClose(client)
                outcomes.withLock { $0.append(outcome) }
                arrived.signal()
            }
            finished.signal()
        }
        thread.start()
    }

    deinit {
        close(listenFD)
    }

    /// Waits for the next connection's outcome (nil after `timeout` seconds).
    package func nextOutcome(timeout: Int = 10) -> TestSupportServerOutcome? {
        guard arrived.wait(timeout: .now() + .seconds(timeout)) == .success else { return nil }
        return outcomes.withLock { $0.removeFirst() }
    }

    private static func serve(_ fd: Int32, context: TLSContext) -> TestSupportServerOutcome {
        do {
            try TestSupportSocket.setNonBlocking(fd)
            let connection = try TLSConnection(context: context, fileDescriptor: fd)
            handshake: while true {
                switch connection.handshake() {
                case .complete: break handshake
                case .wantRead: guard TestSupportSocket.wait(fd, timeoutMilliseconds: 5000) else { return timeout() }
                case .wantWrite:
                    guard TestSupportSocket.wait(fd, forWriting: true, timeoutMilliseconds: 5000) else {
                        return timeout()
                    }
                case .failed(let failure):
                    return TestSupportServerOutcome(
                        failure: failure, peer: nil, protocolVersion: "", cipherName: "", isSessionReused: false)
                }
            }
            let peer = connection.peerCertificate
            let outcome = TestSupportServerOutcome(
                failure: nil, peer: peer, protocolVersion: connection.protocolVersion,
                cipherName: connection.cipherName, isSessionReused: connection.isSessionReused)
            answerOneRequest(connection, fd: fd, body: peer?.commonNames.joined(separator: ",") ?? "")
            connection.shutdown()
            return outcome
        } catch {
            return TestSupportServerOutcome(
                failure: TLSHandshakeFailure(reason: .handshakeFailed, detail: "\(error)", peerCertificate: nil),
                peer: nil, protocolVersion: "", cipherName: "", isSessionReused: false)
        }
    }

    /// Reads until the end of a request head, then writes a 200 with `body`.
    private static func answerOneRequest(_ connection: TLSConnection, fd: Int32, body: String) {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        reading: while !received.containsHeadEnd() {
            switch chunk.withUnsafeMutableBytes({ connection.read(into: $0) }) {
            case .bytes(let count): received += chunk[0..<count]
            case .wantRead: guard TestSupportSocket.wait(fd, timeoutMilliseconds: 5000) else { return }
            case .wantWrite:
                guard TestSupportSocket.wait(fd, forWriting: true, timeoutMilliseconds: 5000) else { return }
            case .closed, .failed: break reading
            }
        }
        let response = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
        var offset = 0
        while offset < response.count {
            let status = response.withUnsafeBytes { connection.write(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            switch status {
            case .bytes(let count): offset += count
            case .wantRead: guard TestSupportSocket.wait(fd, timeoutMilliseconds: 5000) else { return }
            case .wantWrite:
                guard TestSupportSocket.wait(fd, forWriting: true, timeoutMilliseconds: 5000) else { return }
            case .closed, .failed: return
            }
        }
    }

    /// Half-closes and drains what the peer still sends (bounded) before closing, so the kernel does not
    /// answer late client data with an RST that could destroy the alert before a TLS 1.3 client reads it.
    private static func lingeringClose(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))  // best effort; close follows either way
        var scratch = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<20 {
            guard TestSupportSocket.wait(fd, timeoutMilliseconds: 50) else { break }
            let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 && !(count < 0 && (errno == EAGAIN || errno == EINTR)) { break }
        }
        close(fd)
    }

    private static func timeout() -> TestSupportServerOutcome {
        TestSupportServerOutcome(
            failure: TLSHandshakeFailure(reason: .handshakeFailed, detail: "test server timeout", peerCertificate: nil),
            peer: nil, protocolVersion: "", cipherName: "", isSessionReused: false)
    }
}

extension [UInt8] {
    fileprivate func containsHeadEnd() -> Bool {
        guard count >= 4 else { return false }
        return (0...(count - 4)).contains {
            self[$0] == 13 && self[$0 + 1] == 10 && self[$0 + 2] == 13 && self[$0 + 3] == 10
        }
    }
}
