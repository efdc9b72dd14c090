import CoreMetrics
import Glibc
import HTTP1
package import Logging
import Posix
import Synchronization
package import TLS

/// Commands the server sends a worker from another thread, through its loop's waker.
package final class WorkerControl: Sendable {
    enum Command: Sendable {
        case none, drain, abort, stop
    }
    private let state = Mutex<(command: Command, connections: Int, running: Bool)>((.none, 0, false))
    let waker: EventLoopWaker

    init(waker: EventLoopWaker) {
        self.waker = waker
    }

    func send(_ command: Command) {
        state.withLock { $0.command = command }
        waker.wake()
    }

    var command: Command { state.withLock { $0.command } }

    /// Open connections, as last published by the worker.
    package var connectionCount: Int { state.withLock { $0.connections } }
    package var isRunning: Bool { state.withLock { $0.running } }

    func publish(connections: Int) { state.withLock { $0.connections = connections } }
    func publish(running: Bool) { state.withLock { $0.running = running } }
}

/// The parts every worker shares (all Sendable): configuration, current TLS context, registry
/// snapshot, writer, refusal recorder, statistics, logger.
package struct WorkerShared: Sendable {
    package var configuration: ReceiverConfiguration
    package var tlsContext: TLSContextHolder
    package var authorization: AuthorizationState
    package var writer: DeliveryWriter
    package var rejections: RejectionRecorder
    package var activity: ClientActivity
    package var statistics: ReceiverStatistics
    package var logger: Logger
    package var connectionIDs: ConnectionIDSource
    package var budgets: ReceiverBudgets
    package var throttle: ClientThrottle
}

/// The current TLS context for new connections; SIGHUP swaps it. Open connections keep theirs.
package final class TLSContextHolder: Sendable {
    private let current: Mutex<TLSContext>
    package init(_ context: TLSContext) { current = Mutex(context) }
    package var context: TLSContext { current.withLock { $0 } }
    package func replace(_ context: TLSContext) { current.withLock { $0 = context } }
}

/// Unique connection ids across workers.
package final class ConnectionIDSource: Sendable {
    private let next = Atomic<UInt64>(1)
    package init() {}
    func make() -> UInt64 { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// One event-loop thread: its own epoll set, its own SO_REUSEPORT listener, the connections it accepted,
/// and the queue on which writers post completions back to it.
final class Worker: EventHandler {
    let loop: EventLoop
    let configuration: ReceiverConfiguration
    let shared: WorkerShared
    let control: WorkerControl
    private let listener: Socket
    private let completions: HandoffQueue<DeliveryCompletion>
    private var connections: [UInt64: Connection] = [:]
    private(set) var isShuttingDown = false
    private var handledCommand: WorkerControl.Command = .none
    /// One read buffer per loop, reused by every connection (reads are parsed at once).
    var readBuffer = [UInt8](repeating: 0, count: 65_536)
    /// Handshake steps taken in the current loop iteration (`loop.now` marks the iteration).
    private var handshakeTurn = (iteration: ContinuousClock.Instant.now, steps: 0)
    /// A full handshake step costs about a millisecond of CPU: at most this many run per iteration, so a
    /// burst of new connections (a reconnect storm, slowloris) delays established connections' requests
    /// by a millisecond, not by the whole burst. Level-triggered epoll reports the others again next turn.
    /// (faults d, p99 of the well-behaved client under 2,000 slowloris connections: unrationed 40.6 ms,
    /// 4 per iteration 25.8 ms, 1 per iteration 19.9 ms, on a shared 2-core box.)
    static let handshakeStepsPerIteration = 1
    private var cachedDate = HTTPDate(secondsSince1970: 0)
    /// `requests_total` series this loop already resolved, so a request costs one dictionary lookup and
    /// an atomic increment, never the registry's lock.
    private var requestCounters: [RequestKey: CoreMetrics.Counter] = [:]

    var statistics: ReceiverStatistics { shared.statistics }
    var rejections: RejectionRecorder { shared.rejections }
    var authorization: AuthorizationState { shared.authorization }
    var activity: ClientActivity { shared.activity }
    var logger: Logger { shared.logger }

    /// Builds the worker on its own thread around a listening descriptor created by the server.
    init(listenerDescriptor: Int32, shared: WorkerShared, control: WorkerControl) throws(SystemError) {
        self.loop = try EventLoop(waker: control.waker)
        self.configuration = shared.configuration
        self.shared = shared
        self.control = control
        self.listener = Socket(takingOwnershipOf: listenerDescriptor)
        self.completions = HandoffQueue(waker: control.waker)
    }

    /// Runs the loop until the server says stop.
    func run() {
        do {
            try loop.register(listener.fileDescriptor, interest: .readable, handler: self)
        } catch {
            logger.critical("cannot watch the listening socket", metadata: ["error": "\(error)"])
            listener.close()
            return
        }
        loop.onWake { [unowned self] in self.wake() }
        scheduleSweep()
        control.publish(running: true)
        loop.run()
        for connection in Array(connections.values) { connection.close() }
        if listener.isOpen {
            loop.unregister(listener.fileDescriptor)
            listener.close()
        }
        control.publish(connections: 0)
        control.publish(running: false)
    }

    // MARK: - Accepting

    func handle(_ events: EpollEvents) {
        // The listener is readable: accept everything waiting.
        while !isShuttingDown {
            let accepted: (Socket, SocketAddress)?
            do {
                accepted = try listener.accept()
            } catch {
                // EMFILE and friends: the listener stays readable, so pause it for 100 ms instead of spinning.
                logger.error("accept failed; pausing accepts for 100 ms", metadata: ["error": "\(error)"])
                pauseAccepting()
                return
            }
            guard let (socket, remote) = accepted else { return }
            guard shared.budgets.openConnection() else {
                // Over --max-connections: this one is closed at once, and accepting pauses briefly so the
                // rest wait in the kernel's backlog instead of costing memory here.
                socket.close()
                statistics.recordConnectionRefused()
                pauseAccepting()
                return
            }
            let tls: TLSConnection
            do {
                tls = try TLSConnection(context: shared.tlsContext.context, fileDescriptor: socket.fileDescriptor)
            } catch {
                logger.error("cannot create a TLS session", metadata: ["error": "\(error)"])
                socket.close()
                shared.budgets.closeConnection()
                continue
            }
            let connection = Connection(
                id: shared.connectionIDs.make(), socket: socket, tls: tls, remote: remote, worker: self)
            do {
                try loop.register(socket.fileDescriptor, interest: .readable, handler: connection)
            } catch {
                socket.close()
                shared.budgets.closeConnection()
                continue
            }
            connections[connection.id] = connection
            statistics.connectionOpened()
            control.publish(connections: connections.count)
        }
    }

    private func pauseAccepting() {
        guard listener.isOpen else { return }
        // modify can only fail for an unregistered descriptor, which a closed listener no longer is.
        try? loop.modify(listener.fileDescriptor, interest: [])
        loop.schedule(after: .milliseconds(100)) { [unowned self] in
            guard !self.isShuttingDown, self.listener.isOpen else { return }
            try? self.loop.modify(self.listener.fileDescriptor, interest: .readable)
        }
    }

    func connectionClosed(_ connection: Connection) {
        connections[connection.id] = nil
        shared.budgets.closeConnection()
        statistics.connectionClosed()
        control.publish(connections: connections.count)

    }

    // MARK: - Completions and commands

    private func wake() {
        for completion in completions.drain() {
            connections[completion.connectionID]?.complete(completion.outcome)
        }
        // Act on each command once: a later wake (a completion) must not abort connections again.
        let command = control.command
        guard command != handledCommand else { return }
        handledCommand = command
        switch command {
        case .none:
            break
        case .drain:
            beginShutdown()
        case .abort:
            beginShutdown()
            for connection in Array(connections.values) { connection.abortForShutdown() }
        case .stop:
            loop.stop()
        }
    }

    private func beginShutdown() {
        guard !isShuttingDown else { return }
        isShuttingDown = true
        loop.unregister(listener.fileDescriptor)
        listener.close()
        // SPEC: connections that are idle or still in the handshake are closed; in-flight requests finish.
        for connection in Array(connections.values) where connection.isIdle { connection.close() }
    }

    // MARK: - Time

    private func scheduleSweep() {
        loop.schedule(after: .milliseconds(250)) { [unowned self] in
            self.sweep()
            self.scheduleSweep()
        }
    }

    /// Closes or answers connections whose deadline passed. One pass over the connections every 250 ms
    /// is cheaper than a timer per connection re-armed on every request.
    private func sweep() {
        cachedDate = HTTPDate(secondsSince1970: Int64(time(nil)))
        let now = loop.now
        for connection in Array(connections.values) {
            if connection.deadline <= now {
                connection.deadlineExpired()
            } else if connection.isPausedForBudget {
                connection.resumeIfBudgetAllows()
            }
        }
    }

    /// Takes one of this iteration's handshake steps; false when they are spent (try again next iteration).
    func takeHandshakeStep() -> Bool {
        if handshakeTurn.iteration != loop.now { handshakeTurn = (loop.now, 0) }
        guard handshakeTurn.steps < Self.handshakeStepsPerIteration else { return false }
        handshakeTurn.steps += 1
        return true
    }

    var date: HTTPDate {
        if cachedDate.secondsSince1970 == 0 { cachedDate = HTTPDate(secondsSince1970: Int64(time(nil))) }
        return cachedDate
    }

    var wallClockSeconds: Int64 { Int64(time(nil)) }

    // MARK: - Metrics

    /// Counts one answer in `requests_total{status,endpoint}` and, when a head was parsed, its latency
    /// (head to answer) in `request_seconds`.
    func recordAnswer(status: Int, request: Connection.RequestRecord?) {
        let key = RequestKey(status: status, endpoint: request?.metricsEndpoint ?? "")
        let counter: CoreMetrics.Counter
        if let cached = requestCounters[key] {
            counter = cached
        } else {
            counter = statistics.requestCounter(key)
            requestCounters[key] = counter
        }
        statistics.recordRequest(counter: counter, duration: request.map { loop.now - $0.startedAt })
    }

    // MARK: - Deliveries

    /// Hands `delivery` to the writers; the claim lets the connection withdraw it while it still waits.
    func submit(_ delivery: Delivery, from connection: Connection) -> TicketClaim {
        // The body's bytes stay held while the ticket lives, even if the connection goes away meanwhile.
        let hold = ReceiverBudgets.Hold(connection.heldBytes, of: shared.budgets, for: connection.clientShare)
        connection.heldBytes = 0
        let ticket = DeliveryTicket(
            delivery: delivery, connectionID: connection.id, replies: completions, hold: hold)
        shared.writer.submit(ticket)
        return ticket.claim
    }
}
