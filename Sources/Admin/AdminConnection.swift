import HTTP1
import Posix

/// One plain-HTTP connection to the admin listener: requests are parsed with `HTTPRequestParser` and
/// answered by `AdminRoutes` in order (keep-alive and pipelining work; bodies are read and ignored).
///
/// > Warning: thread-confined to the admin loop's thread; the acceptor owns it.
final class AdminConnection: EventHandler {
    private let socket: Socket
    private unowned let acceptor: AdminAcceptor
    private var parser = HTTPRequestParser()
    private var output = PendingWrites()
    private var closeWhenFlushed = false
    private var interest: EpollEvents = .readable
    private var isClosed = false
    /// When the connection is closed unless a request completes first.
    private(set) var deadline: ContinuousClock.Instant

    /// Wraps an accepted socket; the acceptor registers it with the loop.
    init(socket: Socket, acceptor: AdminAcceptor) {
        self.socket = socket
        self.acceptor = acceptor
        self.deadline = acceptor.loop.now + AdminAcceptor.idleTimeout
    }

    /// Writes what is pending, reads and answers what arrived.
    func handle(_ events: EpollEvents) {
        if events.contains(.writable) { flush() }
        // Backpressure like the webhook port: while an answer is unread, read nothing more (pipelined
        // requests wait in the kernel, not in our memory).
        if !isClosed && !closeWhenFlushed && output.isEmpty && (events.contains(.readable) || events.contains(.hangup))
        {
            read()
        }
        if !isClosed && events.contains(.error) { close() }
    }

    private func read() {
        var scratch = [UInt8](repeating: 0, count: 16_384)
        while !isClosed && !closeWhenFlushed && output.isEmpty {
            let count: Int?
            do {
                count = try scratch.withUnsafeMutableBytes { buffer throws(SystemError) in
                    try socket.read(into: buffer)
                }
            } catch {
                return close()
            }
            guard let count else { return }  // would block: wait for more
            guard count > 0 else { return close() }  // the client closed
            parser.append(scratch[0..<count])
            process()
        }
    }

    private func process() {
        while !closeWhenFlushed && output.isEmpty {
            let event: HTTPParserEvent?
            do {
                event = try parser.next()
            } catch {
                return send(
                    .error(status: error.status, code: error.code.name, message: error.message), keepAlive: false)
            }
            guard let event else { return }
            guard case .head(let head) = event else { continue }  // bodies are not used by any admin route
            let response = AdminRoutes.response(
                method: head.method, path: head.path,
                readiness: { acceptor.readiness.status() },
                metrics: { acceptor.metrics(acceptor.wallClockSeconds) })
            deadline = acceptor.loop.now + AdminAcceptor.idleTimeout
            send(response, keepAlive: head.keepAlive)
        }
    }

    private func send(_ response: HTTPResponse, keepAlive: Bool) {
        output.append(
            response.encoded(
                keepAlive: keepAlive, date: HTTPDate(secondsSince1970: acceptor.wallClockSeconds)))
        if !keepAlive { closeWhenFlushed = true }
        flush()
    }

    private func flush() {
        let result = output.flush { buffer in
            do {
                return try socket.write(buffer).map { .wrote($0) } ?? .wouldBlock
            } catch {
                return .failed
            }
        }
        switch result {
        case .wouldBlock: setInterest(.writable)
        case .failed: close()
        case .drained:
            if closeWhenFlushed { return close() }
            setInterest(.readable)
            // Requests that arrived while the answer was pending are already buffered: answer them now.
            process()
        }
    }

    private func setInterest(_ wanted: EpollEvents) {
        guard !isClosed, wanted != interest else { return }
        interest = wanted
        do {
            try acceptor.loop.modify(socket.fileDescriptor, interest: wanted)
        } catch {
            close()
        }
    }

    /// Unregisters and closes the socket; idempotent.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        let descriptor = socket.fileDescriptor
        acceptor.loop.unregister(descriptor)
        socket.close()
        acceptor.connectionClosed(descriptor)
    }
}
