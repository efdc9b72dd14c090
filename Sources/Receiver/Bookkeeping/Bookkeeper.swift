package import Admin
import Glibc
package import Logging
package import Posix
package import Postgres
import Synchronization
import TLS

/// The receiver's one background database session besides the writers: it keeps the authorization
/// snapshot current (LISTEN `webhookd_clients`, plus a full refresh every `refreshInterval`), stores
/// queued rejections, and writes `last_seen_at`/`last_cert_not_after`. A failed refresh keeps the last
/// good snapshot. It is also `/readyz`'s database check (a `SELECT 1` at most once a second) and keeps
/// `client_certificate_expiry_seconds` current from `clients.last_cert_not_after`.
package final class Bookkeeper: Sendable {
    private let database: DatabaseHandle
    private let authorization: AuthorizationState
    private let rejections: RejectionRecorder
    private let activity: ClientActivity
    private let logger: Logger
    private let refreshInterval: Duration
    private let registryMaxAge: Duration
    private let periodicCheck: @Sendable () -> Void
    private let periodicInterval: Duration
    private let statistics: ReceiverStatistics?
    private let readiness: Readiness?
    private let control = Mutex<Control>(Control())

    /// How often the session is checked with `SELECT 1` for `/readyz` (SPEC: at most once a second).
    static let healthCheckInterval: Duration = .seconds(1)

    private struct Control {
        var stopping = false
        var finished = false
        /// Cancels the registry session's running statement (a stop must not wait on a hung database).
        var cancel: PGCancelToken?
        var thread: ThreadHandle?
        var lastRefresh: ContinuousClock.Instant?
    }

    package init(
        database: DatabaseHandle, authorization: AuthorizationState, rejections: RejectionRecorder,
        activity: ClientActivity, logger: Logger, refreshInterval: Duration = .seconds(30),
        registryMaxAge: Duration = .seconds(60),
        periodicCheck: @escaping @Sendable () -> Void = {}, periodicInterval: Duration = .seconds(12 * 3600),
        statistics: ReceiverStatistics? = nil, readiness: Readiness? = nil
    ) {
        self.statistics = statistics
        self.readiness = readiness
        self.periodicCheck = periodicCheck
        self.periodicInterval = periodicInterval
        self.database = database
        self.authorization = authorization
        self.rejections = rejections
        self.activity = activity
        self.logger = logger
        self.refreshInterval = refreshInterval
        self.registryMaxAge = registryMaxAge
    }

    /// Reads the registry once, synchronously (at start, before serving).
    package func loadSnapshot(using connection: PGConnection) throws(PostgresError) {
        authorization.replace(with: try Self.readSnapshot(connection))
        try refreshClientExpiry(connection)
        control.withLock { $0.lastRefresh = .now }
    }

    /// Sets `client_certificate_expiry_seconds` from every client's `last_cert_not_after`.
    private func refreshClientExpiry(_ connection: PGConnection) throws(PostgresError) {
        guard let statistics else { return }
        let result = try connection.query(
            """
            SELECT client_id, floor(extract(epoch FROM last_cert_not_after))::bigint::text FROM clients \
            WHERE last_cert_not_after IS NOT NULL
            """)
        var notAfter: [ClientKey: Int64] = [:]
        for row in 0..<result.rowCount {
            guard let id = result.string(row, 0), let seconds = result.string(row, 1).flatMap({ Int64($0) }) else {
                continue
            }
            notAfter[ClientKey(id)] = seconds
        }
        statistics.replaceClientCertificateExpiry(notAfter)
    }

    /// Starts the background thread.
    package func start() throws(SystemError) {
        let thread = try startThread(name: "bookkeeper") { [self] in self.run() }
        control.withLock { $0.thread = thread }
    }

    /// Stores what is still queued and stops the thread.
    package func stop(within limit: Duration = .seconds(2)) {
        let thread = control.withLock { control in
            control.stopping = true
            return control.thread
        }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline && thread != nil && !control.withLock({ $0.finished }) { usleep(10_000) }
        if !control.withLock({ $0.finished }) { _ = control.withLock { $0.cancel }?.cancel() }
        thread?.join()
    }

    /// When the snapshot was last refreshed from the database.
    package var lastRefresh: ContinuousClock.Instant? { control.withLock { $0.lastRefresh } }

    static func readSnapshot(_ connection: PGConnection) throws(PostgresError) -> AuthorizationSnapshot {
        let result = try connection.query(
            """
            SELECT client_id, enabled, endpoints, pins_sha256, issuers_sha256, max_connections, rate_per_second::text, \
            burst, signature_scheme, signature_mode FROM clients
            """)
        // The secrets, readable by the receiver's role only (008 revokes them from webhookd_reader).
        let secretRows = try connection.query(
            "SELECT client_id, secret FROM client_signature_secrets ORDER BY client_id, position")
        var secrets: [ClientKey: [[UInt8]]] = [:]
        for row in 0..<secretRows.rowCount {
            guard let id = secretRows.string(row, 0), let secret = secretRows.bytes(row, 1) else { continue }
            secrets[ClientKey(id), default: []].append(secret)
        }
        var grants: [ClientKey: ClientGrant] = [:]
        for row in 0..<result.rowCount {
            guard let id = result.string(row, 0) else { continue }
            var grant = ClientGrant(
                clientID: id, enabled: result.bool(row, 1) ?? false,
                endpoints: (result.textArray(row, 2) ?? []).compactMap { $0 },
                pinsSHA256: (result.textArray(row, 3) ?? []).compactMap { $0 },
                issuersSHA256: (result.textArray(row, 4) ?? []).compactMap { $0 })
            grant.maxConnections = result.int(row, 5)
            grant.ratePerSecond = result.string(row, 6).flatMap(Double.init)
            grant.burst = result.int(row, 7)
            if let scheme = result.string(row, 8).flatMap(SignatureScheme.init(rawValue:)) {
                let mode = result.string(row, 9).flatMap(SignatureMode.init(rawValue:)) ?? .required
                grant.signature = SignatureRequirement(
                    scheme: scheme, mode: mode, secrets: secrets[ClientKey(id)] ?? [])
            }
            grants[ClientKey(id)] = grant
        }
        return AuthorizationSnapshot(grants: grants, readAt: .now)
    }

    // MARK: - Thread

    private func run() {
        var connection: PGConnection?
        var nextConnectAttempt = ContinuousClock.now
        var nextRefresh = ContinuousClock.now + refreshInterval
        var nextPeriodicCheck = ContinuousClock.now + periodicInterval
        var nextHealthCheck = ContinuousClock.now
        var wasStale = false
        while true {
            // Fail closed (the connections check the same age): say so once when it starts and once when it ends.
            let stale = !authorization.snapshot.isFresh(at: .now, maxAge: registryMaxAge)
            if stale != wasStale {
                wasStale = stale
                statistics?.recordRegistryStale(stale)
                if stale {
                    logger.error(
                        "client registry not refreshed within --registry-max-age; answering 503 registry_unavailable",
                        metadata: ["registry_max_age_s": "\(registryMaxAge.components.seconds)"])
                } else {
                    logger.info("client registry refreshed; authorizing requests again")
                }
            }
            if ContinuousClock.now >= nextPeriodicCheck {
                periodicCheck()
                nextPeriodicCheck = .now + periodicInterval
            }
            let stopping = control.withLock { $0.stopping }
            if connection == nil, ContinuousClock.now >= nextConnectAttempt {
                do {
                    let fresh = try database.connect(connectTimeoutSeconds: 2, applicationName: "webhookd registry")
                    try fresh.listen("webhookd_clients")
                    connection = fresh
                    let token = fresh.makeCancelToken()
                    control.withLock { $0.cancel = token }
                    // Changes made while we were disconnected were not notified: refresh now.
                    nextRefresh = .now
                } catch {
                    logger.error(
                        "registry connection failed; keeping the last client snapshot",
                        metadata: ["error": "\(error.message)"])
                    readiness?.databaseFailed(error.message)
                    nextConnectAttempt = .now + .seconds(1)
                }
            }
            do {
                if let connection {
                    let notifications = stopping ? [] : try connection.waitForNotifications(timeout: .milliseconds(200))
                    if !notifications.isEmpty || ContinuousClock.now >= nextRefresh {
                        authorization.replace(with: try Self.readSnapshot(connection))
                        try refreshClientExpiry(connection)
                        control.withLock { $0.lastRefresh = .now }
                        nextRefresh = .now + refreshInterval
                    }
                    if let readiness, ContinuousClock.now >= nextHealthCheck {
                        try connection.query("SELECT 1")
                        readiness.databaseAnswered()
                        nextHealthCheck = .now + Self.healthCheckInterval
                    }
                    try storeBookkeeping(on: connection)
                } else {
                    // Without a database, rejections are still logged; their rows are lost.
                    _ = rejections.drain()
                    _ = activity.drain()
                    usleep(200_000)
                }
            } catch {
                logger.error(
                    "registry session failed; keeping the last client snapshot", metadata: ["error": "\(error.message)"]
                )
                readiness?.databaseFailed(error.message)
                connection?.close()
                connection = nil
                nextConnectAttempt = .now + .seconds(1)
            }
            if stopping { break }
        }
        control.withLock {
            $0.cancel = nil
            $0.finished = true
        }
        connection?.close()
    }

    /// Rejections and last_seen_at, in one transaction whose locks and statements are bounded to well
    /// under a second, so a locked `clients` row or `rejections` table can never hold up the refresh.
    /// A timeout puts the activity back for the next round; rejections are logged already and dropped.
    private func storeBookkeeping(on connection: PGConnection) throws(PostgresError) {
        let pendingRejections = rejections.drain()
        let pendingActivity = activity.drain()
        guard !pendingRejections.isEmpty || !pendingActivity.isEmpty else { return }
        do {
            try connection.transaction {
                try connection.query("SET LOCAL lock_timeout = '200ms'")
                try connection.query("SET LOCAL statement_timeout = '500ms'")
                try store(pendingRejections, on: connection)
                try storeActivity(pendingActivity, on: connection)
            }
        } catch {
            // `transaction` rethrows what its body threw, and the body throws only PostgresError.
            let error = error as? PostgresError ?? PostgresError(.queryFailed, "\(error)")
            if error.isConnectionProblem { throw error }
            activity.restore(pendingActivity)
            logger.warning(
                "bookkeeping write skipped; the registry refresh goes on",
                metadata: ["error": "\(error.message)", "rejections_dropped": "\(pendingRejections.count)"])
        }
    }

    private func store(_ rejections: [Rejection], on connection: PGConnection) throws(PostgresError) {
        for rejection in rejections {
            try connection.query(
                """
                INSERT INTO rejections (stage, reason, detail, remote_addr, client_id, endpoint, cert_subject, \
                cert_issuer, cert_serial, cert_sha256) VALUES ($1, $2, $3, $4::inet, $5, $6, $7, $8, $9, $10)
                """,
                [
                    .text(rejection.stage.rawValue), .text(rejection.reason.code), .text(rejection.detail),
                    .text(rejection.remoteAddress), .optional(rejection.clientID), .optional(rejection.endpoint),
                    .optional(rejection.certificate?.subject), .optional(rejection.certificate?.issuer),
                    .optional(rejection.certificate?.serialHex), .optional(rejection.certificate?.sha256),
                ])
        }
    }

    private func storeActivity(_ updates: [ClientKey: Int64], on connection: PGConnection) throws(PostgresError) {
        for (clientID, notAfter) in updates {
            try connection.query(
                "UPDATE clients SET last_seen_at = now(), last_cert_not_after = to_timestamp($2::bigint) WHERE client_id = $1",
                [.text(clientID.id), .text(String(notAfter))])
        }
        if !updates.isEmpty { statistics?.updateClientCertificateExpiry(updates) }
    }
}
