import Glibc
package import Logging
package import Posix
import Synchronization

/// The admin listener (SPEC "Admin listener", `--admin-listen`): plain HTTP on its own thread and its
/// own `EventLoop`, never on the mTLS port, serving `/healthz`, `/readyz` and `/metrics`.
///
/// It binds in `init` (so a bad `--admin-listen` stops the start), runs after `start()`, and stops in
/// `stop()`. Answers never wait on the network or the database: `/readyz` reads `Readiness`, which the
/// bookkeeper keeps current, and `/metrics` renders the in-memory registry.
///
/// Sendable without `@unchecked`: immutable values plus a `Mutex`; the listening socket crosses to the
/// admin thread as a bare descriptor and is owned there.
package final class AdminListener: Sendable {
    /// The address actually bound (port 0 resolved).
    package let address: SocketAddress
    private let descriptor: Int32
    private let waker: EventLoopWaker
    private let metrics: @Sendable (Int64) -> [UInt8]
    private let readiness: Readiness
    private let logger: Logger
    private let state = Mutex<State>(.bound)

    /// bound → running → stopped. The listening descriptor belongs to this object while `bound`, and to
    /// the admin thread from `start()` on.
    private enum State {
        case bound
        case running(ThreadHandle)
        case stopped
    }

    /// Binds `address` (not yet serving).
    ///
    /// - Throws: `SystemError` from `socket`, `bind` (e.g. `EADDRINUSE`), `listen` or `eventfd`.
    package init(
        address: SocketAddress, metrics: @escaping @Sendable (Int64) -> [UInt8], readiness: Readiness, logger: Logger
    ) throws(SystemError) {
        let socket = try Socket.listen(on: address, reusePort: false, backlog: 64)
        do {
            self.address = try socket.localAddress
            self.waker = try EventLoopWaker()
        } catch {
            socket.close()
            throw error
        }
        self.descriptor = socket.releaseOwnership()
        self.metrics = metrics
        self.readiness = readiness
        self.logger = logger
    }

    deinit {
        // Never started: the descriptor is still ours. Once started, the admin thread closes it.
        if case .bound = state.withLock({ $0 }) { closeFileDescriptor(descriptor) }
    }

    /// Starts serving on the admin thread.
    ///
    /// - Throws: `SystemError` when the thread cannot be started.
    package func start() throws(SystemError) {
        let descriptor = self.descriptor
        let waker = self.waker
        let metrics = self.metrics
        let readiness = self.readiness
        let logger = self.logger
        let handle = try startThread(name: "admin") {
            do {
                let loop = try EventLoop(waker: waker)
                let acceptor = AdminAcceptor(
                    loop: loop, listener: Socket(takingOwnershipOf: descriptor), metrics: metrics,
                    readiness: readiness, logger: logger)
                acceptor.run()
            } catch {
                logger.critical("admin listener failed to start", metadata: ["error": "\(error)"])
                closeFileDescriptor(descriptor)
            }
        }
        state.withLock { $0 = .running(handle) }
    }

    /// Stops the admin thread (closing its connections) and waits for it.
    package func stop() {
        let handle = state.withLock { state -> ThreadHandle? in
            guard case .running(let handle) = state else { return nil }
            state = .stopped
            return handle
        }
        guard let handle else { return }
        waker.stop()
        handle.join()
    }
}

/// The admin thread's listener: accepts connections into `AdminConnection`s and closes idle ones.
///
/// > Warning: thread-confined to the admin loop's thread.
final class AdminAcceptor: EventHandler {
    /// More concurrent admin connections than this are closed at once (a scraper needs one or two).
    /// A scraper, a health checker and a person with curl: a few connections, never a flood.
    static let maxConnections = 8
    /// A connection with no complete request for this long is closed.
    static let idleTimeout: Duration = .seconds(10)

    /// The admin thread's loop.
    let loop: EventLoop
    /// Renders `/metrics` for a wall-clock time in seconds.
    let metrics: @Sendable (Int64) -> [UInt8]
    /// What `/readyz` reports.
    let readiness: Readiness
    /// For accept failures.
    let logger: Logger
    private let listener: Socket
    private var connections: [Int32: AdminConnection] = [:]

    /// Wraps the listening socket; nothing is watched until `run()`.
    init(
        loop: EventLoop, listener: Socket, metrics: @escaping @Sendable (Int64) -> [UInt8], readiness: Readiness,
        logger: Logger
    ) {
        self.loop = loop
        self.listener = listener
        self.metrics = metrics
        self.readiness = readiness
        self.logger = logger
    }

    /// Runs until `AdminListener.stop()`, then closes everything.
    func run() {
        do {
            try loop.register(listener.fileDescriptor, interest: .readable, handler: self)
        } catch {
            logger.critical("cannot watch the admin listening socket", metadata: ["error": "\(error)"])
            listener.close()
            return
        }
        scheduleSweep()
        loop.run()
        for connection in Array(connections.values) { connection.close() }
        loop.unregister(listener.fileDescriptor)
        listener.close()
    }

    /// The listener is readable: accepts everything waiting.
    func handle(_ events: EpollEvents) {
        while true {
            let accepted: (Socket, SocketAddress)?
            do {
                accepted = try listener.accept()
            } catch {
                // EMFILE and friends: the listener stays readable, so pause it for 100 ms instead of spinning.
                logger.error("admin accept failed; pausing admin accepts for 100 ms", metadata: ["error": "\(error)"])
                try? loop.modify(listener.fileDescriptor, interest: [])
                loop.schedule(after: .milliseconds(100)) { [unowned self] in
                    guard self.listener.isOpen else { return }
                    try? self.loop.modify(self.listener.fileDescriptor, interest: .readable)
                }
                return
            }
            guard let (socket, _) = accepted else { return }
            guard connections.count < Self.maxConnections else {
                socket.close()
                continue
            }
            let connection = AdminConnection(socket: socket, acceptor: self)
            do {
                try loop.register(socket.fileDescriptor, interest: .readable, handler: connection)
            } catch {
                socket.close()
                continue
            }
            connections[socket.fileDescriptor] = connection
        }
    }

    /// Forgets a connection that closed itself.
    func connectionClosed(_ fileDescriptor: Int32) {
        connections[fileDescriptor] = nil
    }

    /// Seconds since 1970, for `Date` headers and the expiry gauges.
    var wallClockSeconds: Int64 { Int64(time(nil)) }

    private func scheduleSweep() {
        loop.schedule(after: .seconds(1)) { [unowned self] in
            let now = self.loop.now
            for connection in Array(self.connections.values) where connection.deadline <= now { connection.close() }
            self.scheduleSweep()
        }
    }
}
