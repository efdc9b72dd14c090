package import Admin
import Glibc
package import Logging
package import Posix
package import Postgres
import Synchronization
import TLS

/// A configuration problem found at start: the command prints `message` and exits 64. The OpenSSL,
/// libpq or system error behind it is kept in `underlying` for callers that need more than the line.
package struct ServerStartError: Error, Sendable, CustomStringConvertible {
    package var message: String
    package var underlying: (any Error & Sendable)?
    package init(_ message: String, underlying: (any Error & Sendable)? = nil) {
        self.message = message
        self.underlying = underlying
    }
    package var description: String { message }
}

/// The receiver: builds and validates everything at start (TLS context, database, migrations, registry
/// snapshot, listeners), runs the worker loops, the delivery writers and the bookkeeper, reloads TLS on
/// SIGHUP and drains on SIGTERM.
package final class Server {
    package let configuration: ReceiverConfiguration
    private let database: DatabaseHandle
    private let logger: Logger
    package let statistics = ReceiverStatistics()
    /// What `/readyz` answers.
    package let readiness = Readiness()
    private var admin: AdminListener?
    private var shared: WorkerShared?
    private var bookkeeper: Bookkeeper?
    private var controls: [WorkerControl] = []
    private var threads: [ThreadHandle] = []
    /// The address actually bound (port 0 resolved).
    package private(set) var boundAddress: SocketAddress

    package init(configuration: ReceiverConfiguration, database: DatabaseHandle, logger: Logger) {
        self.configuration = configuration
        self.database = database
        self.logger = logger
        self.boundAddress = configuration.listen
    }

    /// Validates and starts everything. Nothing is served until every check passed.
    /// - Parameters:
    ///   - migrator: when given, pending migrations refuse the start ("run webhookd migrate").
    ///   - databaseWait: how long to wait for the database to answer.
    /// - Throws: `ServerStartError` with one line naming the flag or the problem.
    package func start(migrator: Migrator?, databaseWait: Duration) throws(ServerStartError) {
        let context: TLSContext
        do {
            context = try TLSContext(configuration: configuration.tls)
        } catch {
            throw ServerStartError(error.message, underlying: error)
        }
        do {
            try context.selfTestRefusesAnonymousClient()
        } catch {
            throw ServerStartError(error.message, underlying: error)
        }
        for warning in context.warnings { logger.warning("\(warning)") }
        ExpiryReport.log(context, logger: logger)
        statistics.updateCertificateExpiry(context)
        readiness.markTLSLoaded()
        let connection = try waitForDatabase(databaseWait)
        defer { connection.close() }
        try checkMigrations(connection, migrator: migrator)

        let authorization = AuthorizationState()
        let rejections = RejectionRecorder(
            perSecond: configuration.rejectionsPerSecond, statistics: statistics, logger: logger)
        let activity = ClientActivity()
        let holder = TLSContextHolder(context)
        let logger = self.logger
        let bookkeeper = Bookkeeper(
            database: database, authorization: authorization, rejections: rejections, activity: activity,
            logger: logger, registryMaxAge: configuration.registryMaxAge,
            periodicCheck: { ExpiryReport.log(holder.context, logger: logger) },
            statistics: statistics, readiness: readiness)
        do {
            try bookkeeper.loadSnapshot(using: connection)
        } catch {
            throw ServerStartError("cannot read the clients table: \(error.message)", underlying: error)
        }
        readiness.databaseAnswered()
        let writer: DeliveryWriter
        do {
            writer = try DeliveryWriter(
                database: database, threads: configuration.writerThreads, maxBatch: configuration.maxBatch,
                statementTimeout: configuration.commitTimeout, statistics: statistics, logger: logger)
        } catch {
            throw ServerStartError("cannot create the delivery writer: \(error)", underlying: error)
        }
        // The admin socket first: if a listener cannot bind, the unstarted admin listener closes its own.
        let admin = try bindAdminListener()
        let listeners = try bindListeners()
        let shared = WorkerShared(
            configuration: configuration, tlsContext: holder, authorization: authorization,
            writer: writer, rejections: rejections, activity: activity, statistics: statistics, logger: logger,
            connectionIDs: ConnectionIDSource(),
            budgets: ReceiverBudgets(
                maxConnections: configuration.maxConnections, maxBufferedBytes: configuration.maxBufferedBytes,
                clientMaxBufferedBytes: configuration.clientMaxBufferedBytes),
            throttle: ClientThrottle())
        self.shared = shared
        self.bookkeeper = bookkeeper
        do {
            try writer.start()
            try bookkeeper.start()
            try admin?.start()
            self.admin = admin
            for (index, descriptor) in listeners.enumerated() {
                let control = WorkerControl(waker: try EventLoopWaker())
                controls.append(control)
                threads.append(
                    try startThread(name: "loop-\(index)") {
                        do {
                            let worker = try Worker(listenerDescriptor: descriptor, shared: shared, control: control)
                            worker.run()
                        } catch {
                            shared.logger.critical("worker \(index) failed to start", metadata: ["error": "\(error)"])
                            closeFileDescriptor(descriptor)
                        }
                    })
            }
        } catch {
            throw ServerStartError("cannot start threads: \(error)", underlying: error)
        }
        logger.info(
            "webhookd listening",
            metadata: [
                "listen": "\(boundAddress)", "admin": "\(admin.map { "\($0.address)" } ?? "off")",
                "workers": "\(configuration.workers)", "log_requests": "\(configuration.logRequests)",
                "server_certificate": "\(context.serverCertificate.subject)",
                "client_cas": "\(context.caCertificates.count)", "crls": "\(context.crls.count)",
                "database": "\(database.displayName)",
            ])
    }

    private func waitForDatabase(_ wait: Duration) throws(ServerStartError) -> PGConnection {
        let deadline = ContinuousClock.now + wait
        while true {
            do {
                return try database.connect(connectTimeoutSeconds: 2, applicationName: "webhookd")
            } catch {
                if ContinuousClock.now >= deadline {
                    throw ServerStartError(
                        "cannot reach the database (\(database.displayName)) after \(wait.components.seconds) s: \(error.message)",
                        underlying: error)
                }
                logger.warning("waiting for the database", metadata: ["error": "\(error.message)"])
                usleep(500_000)
            }
        }
    }

    private func checkMigrations(_ connection: PGConnection, migrator: Migrator?) throws(ServerStartError) {
        do {
            if let migrator {
                let pending = try migrator.pending(on: connection)
                if !pending.isEmpty {
                    throw ServerStartError(
                        "the database is not migrated (\(pending.count) pending, first \(pending[0].name)); run webhookd migrate"
                    )
                }
            } else {
                let result = try connection.query("SELECT to_regclass('public.deliveries') IS NOT NULL")
                if result.bool(0, 0) != true {
                    throw ServerStartError("the database has no webhookd tables; run webhookd migrate")
                }
            }
        } catch let error as ServerStartError {
            throw error
        } catch {
            throw ServerStartError("cannot check the database schema: \(error)", underlying: error)
        }
    }

    /// One SO_REUSEPORT listener per worker, all on the same port (port 0 resolves on the first).
    private func bindListeners() throws(ServerStartError) -> [Int32] {
        var descriptors: [Int32] = []
        var address = configuration.listen
        do {
            for _ in 0..<max(1, configuration.workers) {
                let socket = try Socket.listen(on: address, reusePort: true)
                if address.port == 0 { address = try socket.localAddress }
                descriptors.append(socket.fileDescriptor)
                socket.releaseOwnership()
            }
        } catch {
            descriptors.forEach(closeFileDescriptor)
            throw ServerStartError(
                "--listen \(configuration.listen): cannot listen: \(error.reason)", underlying: error)
        }
        boundAddress = address
        return descriptors
    }

    /// `--admin-listen`: bound at start, so a taken port or a bad address stops the start (exit 64).
    private func bindAdminListener() throws(ServerStartError) -> AdminListener? {
        guard let address = configuration.adminListen else { return nil }
        do {
            return try AdminListener(
                address: address, metrics: { [statistics] in statistics.render(now: $0) }, readiness: readiness,
                logger: logger)
        } catch {
            throw ServerStartError("--admin-listen \(address): cannot listen: \(error.reason)", underlying: error)
        }
    }

    // MARK: - Signals

    /// SIGHUP: builds a new TLS context from the same files; on success new connections use it, open
    /// ones keep theirs; on failure the old one stays and the reason is logged.
    @discardableResult
    package func reload() -> Bool {
        guard let shared else { return false }
        do {
            let context = try TLSContext(configuration: configuration.tls)
            try context.selfTestRefusesAnonymousClient()
            for warning in context.warnings { logger.warning("\(warning)") }
            ExpiryReport.log(context, logger: logger)
            shared.tlsContext.replace(context)
            statistics.updateCertificateExpiry(context)
            logger.notice(
                "configuration reloaded",
                metadata: ["client_cas": "\(context.caCertificates.count)", "crls": "\(context.crls.count)"])
            return true
        } catch {
            logger.error("reload failed; keeping the previous configuration", metadata: ["error": "\(error.message)"])
            return false
        }
    }

    /// SIGTERM/SIGINT: stop accepting, close idle connections, let in-flight requests finish (commits
    /// included) for up to `drainTimeout`, answer 503 to what no writer holds and close the rest without
    /// an answer, then stop every thread — within 10 s even when the database hangs.
    package func shutdown() {
        logger.notice("shutting down", metadata: ["drain_timeout": "\(configuration.drainTimeout)"])
        readiness.markStopping()
        controls.forEach { $0.send(.drain) }
        let deadline = ContinuousClock.now + configuration.drainTimeout
        while ContinuousClock.now < deadline && controls.contains(where: { $0.connectionCount > 0 }) {
            usleep(20_000)
        }
        if controls.contains(where: { $0.connectionCount > 0 }) {
            logger.warning("drain time ran out; answering the rest 503")
            controls.forEach { $0.send(.abort) }
            let abortDeadline = ContinuousClock.now + .milliseconds(500)
            while ContinuousClock.now < abortDeadline && controls.contains(where: { $0.connectionCount > 0 }) {
                usleep(20_000)
            }
        }
        controls.forEach { $0.send(.stop) }
        threads.forEach { $0.join() }
        // What is still queued belongs to connections that are gone; statements still running after this
        // are cancelled (rolled back), so nothing answered 503 is committed afterwards.
        shared?.writer.stop(within: .milliseconds(1_500))
        bookkeeper?.stop(within: .milliseconds(500))
        admin?.stop()
        logger.notice("stopped", metadata: ["statistics": "\(statistics.snapshot)"])
    }

    /// Blocks on SIGHUP/SIGTERM/SIGINT (blocked process-wide before any thread started): reloads on
    /// HUP, returns after a graceful shutdown on TERM/INT.
    package func runUntilTerminated(signals: SignalWaiter) {
        while true {
            let signal = signals.next()
            if signal == SIGHUP {
                reload()
            } else {
                shutdown()
                return
            }
        }
    }
}
