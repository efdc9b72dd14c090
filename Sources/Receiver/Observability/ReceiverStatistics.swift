import CoreMetrics
import Prometheus
import Synchronization
package import TLS

/// The receiver's metrics (SPEC "Metrics"), recorded through the swift-metrics API into one
/// `PrometheusCollectorRegistry` that the admin listener renders as `/metrics`. Updated from every loop
/// and writer thread.
///
/// Each server has its own registry and factory, passed explicitly to every handle, so two servers in
/// one process (in-process tests) never share series; `MetricsSetup` additionally bootstraps the
/// process-wide `MetricsSystem` with the serving server's factory.
///
/// Labels with values from the network are bounded: `requests_total`'s `endpoint` is only the endpoint
/// a client was authorized for (empty otherwise), `handshakes_total`'s `reason` is a SPEC reason code.
///
/// Sendable without `@unchecked`: every stored property is Sendable (metric handles are thread-safe
/// classes, the caches and the totals sit in a `Mutex` or are atomics).
package final class ReceiverStatistics: Sendable {
    /// Metric names, prefixed `webhookd_` (SPEC "Metrics").
    package enum Name {
        /// `{result,reason}`: accepted/none, refused/<SPEC reason code>, timeout/handshake_timeout.
        package static let handshakes = "webhookd_handshakes_total"
        /// `{status,endpoint}`: every answer sent on the mTLS port.
        package static let requests = "webhookd_requests_total"
        /// Deliveries whose row was committed.
        package static let deliveriesCommitted = "webhookd_deliveries_committed_total"
        /// Requests answered with an already stored delivery (same idempotency key).
        package static let duplicates = "webhookd_duplicates_total"
        /// Histogram of deliveries per committed transaction (duplicates included).
        package static let commitBatchSize = "webhookd_commit_batch_size"
        /// Histogram of transaction durations, BEGIN to COMMIT.
        package static let commitSeconds = "webhookd_commit_seconds"
        /// Histogram of request latency, parsed head to queued answer.
        package static let requestSeconds = "webhookd_request_seconds"
        /// Accepted TCP connections not yet closed (handshaking ones included).
        package static let openConnections = "webhookd_open_connections"
        /// Failed database writes and writes refused for an unreachable database.
        package static let databaseErrors = "webhookd_database_errors_total"
        /// Refusals logged but not stored, over `--rejections-per-second`.
        package static let rejectionsDropped = "webhookd_rejections_dropped_total"
        /// `{kind,subject}`: seconds until the server certificate, a CA or a CRL's next update.
        package static let certificateExpiry = "webhookd_certificate_expiry_seconds"
        /// Requests answered 503 `registry_unavailable` (the registry snapshot was too old).
        package static let registryUnavailable = "webhookd_registry_unavailable_total"
        /// `{client,reason}`: requests answered 429 (reason `rate_limited` or `too_many_connections`).
        package static let throttled = "webhookd_throttled_total"
        /// Connections closed at accept because `--max-connections` were open.
        package static let connectionsRefused = "webhookd_connections_refused_total"
        /// 1 while the registry snapshot is older than `--registry-max-age`, else 0.
        package static let registryStale = "webhookd_registry_stale"
        /// `{client}`: seconds until the client's last seen certificate expires.
        package static let clientCertificateExpiry = "webhookd_client_certificate_expiry_seconds"
    }

    /// A few process totals for the "stopped" log line (the metrics themselves are write-only).
    package struct Counters: Sendable, Equatable {
        /// Completed handshakes.
        package var handshakesAccepted = 0
        /// Handshakes refused with a reason code.
        package var handshakesRefused = 0
        /// Connections closed at the handshake timeout.
        package var handshakeTimeouts = 0
        /// Answers sent.
        package var requests = 0
        /// Committed deliveries.
        package var deliveriesCommitted = 0
        /// Duplicate answers.
        package var duplicates = 0
        /// Database errors.
        package var databaseErrors = 0
        /// Refusals queued for the `rejections` table.
        package var rejectionsStored = 0
        /// Refusals over the rate limit.
        package var rejectionsDropped = 0
        /// 503 registry_unavailable answers.
        package var registryUnavailable = 0
    }

    /// The registry `/metrics` renders.
    let registry: PrometheusCollectorRegistry
    /// The factory every handle of this server is made with (buckets configured per metric).
    let factory: any MetricsFactory

    private let deliveriesCommitted: CoreMetrics.Counter
    private let duplicates: CoreMetrics.Counter
    private let databaseErrors: CoreMetrics.Counter
    private let rejectionsDropped: CoreMetrics.Counter
    private let registryUnavailable: CoreMetrics.Counter
    private let connectionsRefused: CoreMetrics.Counter
    private let throttledCounters = Mutex<[String: CoreMetrics.Counter]>([:])
    private let registryStale: CoreMetrics.Gauge
    private let commitBatchSize: Recorder
    private let commitSeconds: CoreMetrics.Timer
    private let requestSeconds: CoreMetrics.Timer
    private let openConnections: Meter
    private let handshakeCounters = Mutex<[String: CoreMetrics.Counter]>([:])
    private let requestCounters = Mutex<[RequestKey: CoreMetrics.Counter]>([:])
    private let expiry: ExpiryGauges
    private let totals = Mutex(Counters())

    /// Creates the metrics of one server, in a registry of its own.
    package init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let latency: [Duration] = [
            .milliseconds(1), .microseconds(2_500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .milliseconds(2_500), .seconds(5), .seconds(10),
        ]
        factory.durationHistogramBuckets = [Name.commitSeconds: latency, Name.requestSeconds: latency]
        // Batches are at most `maxBatch` (256 by default) rows.
        factory.valueHistogramBuckets = [Name.commitBatchSize: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]]
        self.registry = registry
        self.factory = factory
        deliveriesCommitted = CoreMetrics.Counter(label: Name.deliveriesCommitted, factory: factory)
        duplicates = CoreMetrics.Counter(label: Name.duplicates, factory: factory)
        databaseErrors = CoreMetrics.Counter(label: Name.databaseErrors, factory: factory)
        rejectionsDropped = CoreMetrics.Counter(label: Name.rejectionsDropped, factory: factory)
        registryUnavailable = CoreMetrics.Counter(label: Name.registryUnavailable, factory: factory)
        connectionsRefused = CoreMetrics.Counter(label: Name.connectionsRefused, factory: factory)
        registryStale = CoreMetrics.Gauge(label: Name.registryStale, factory: factory)
        registryStale.record(0)
        commitBatchSize = Recorder(label: Name.commitBatchSize, dimensions: [], aggregate: true, factory: factory)
        commitSeconds = CoreMetrics.Timer(label: Name.commitSeconds, factory: factory)
        requestSeconds = CoreMetrics.Timer(label: Name.requestSeconds, factory: factory)
        openConnections = Meter(label: Name.openConnections, factory: factory)
        expiry = ExpiryGauges(factory: factory)
    }

    /// A consistent copy of the process totals.
    package var snapshot: Counters { totals.withLock { $0 } }

    private func add(_ total: WritableKeyPath<Counters, Int>) {
        totals.withLock { $0[keyPath: total] += 1 }
    }

    // MARK: - Recording

    /// A handshake that completed: `handshakes_total{result="accepted",reason="none"}`.
    package func recordHandshakeAccepted() {
        add(\.handshakesAccepted)
        handshakeCounter(result: "accepted", reason: "none").increment()
    }

    /// A handshake refused with a SPEC reason code: `handshakes_total{result="refused",reason=…}`.
    package func recordHandshakeRefused(reason: String) {
        add(\.handshakesRefused)
        handshakeCounter(result: "refused", reason: reason).increment()
    }

    /// A connection closed at the handshake timeout (SPEC: counted, not stored):
    /// `handshakes_total{result="timeout",reason="handshake_timeout"}`.
    package func recordHandshakeTimeout() {
        add(\.handshakeTimeouts)
        handshakeCounter(result: "timeout", reason: "handshake_timeout").increment()
    }

    private func handshakeCounter(result: String, reason: String) -> CoreMetrics.Counter {
        // Reason codes are SPEC's fixed list, so the cache (and the label set) stays small.
        handshakeCounters.withLock { cache in
            let key = result + "/" + reason
            if let counter = cache[key] { return counter }
            let counter = CoreMetrics.Counter(
                label: Name.handshakes, dimensions: [("result", result), ("reason", reason)], factory: factory)
            cache[key] = counter
            return counter
        }
    }

    /// The `requests_total` series for one status and endpoint. Workers cache the result per loop (see
    /// `RequestMetrics`), so this lock is taken once per new label set per loop, not per request.
    func requestCounter(_ key: RequestKey) -> CoreMetrics.Counter {
        requestCounters.withLock { cache in
            if let counter = cache[key] { return counter }
            let counter = CoreMetrics.Counter(
                label: Name.requests, dimensions: [("status", String(key.status)), ("endpoint", key.endpoint)],
                factory: factory)
            cache[key] = counter
            return counter
        }
    }

    /// One answered request (any status, including 400/408/431 answered before a head was parsed).
    ///
    /// - Parameters:
    ///   - status: the HTTP status sent.
    ///   - endpoint: the endpoint the client was authorized for, or "" (404, 405, 403, parse errors).
    ///   - duration: from the parsed head to the queued answer; nil when no head was parsed.
    package func recordRequest(status: Int, endpoint: String = "", duration: Duration? = nil) {
        add(\.requests)
        requestCounter(RequestKey(status: status, endpoint: endpoint)).increment()
        if let duration { recordRequestDuration(duration) }
    }

    /// Counts a request whose counter the caller already holds (the per-loop cache).
    func recordRequest(counter: CoreMetrics.Counter, duration: Duration?) {
        add(\.requests)
        counter.increment()
        if let duration { recordRequestDuration(duration) }
    }

    private func recordRequestDuration(_ duration: Duration) {
        requestSeconds.recordNanoseconds(Self.nanoseconds(duration))
    }

    /// A delivery outcome: committed rows and duplicates.
    package func recordOutcome(_ outcome: DeliveryOutcome) {
        switch outcome {
        case .stored:
            add(\.deliveriesCommitted)
            deliveriesCommitted.increment()
        case .duplicate:
            add(\.duplicates)
            duplicates.increment()
        case .unavailable, .refused, .unknown:
            break
        }
    }

    /// One committed transaction of `batchSize` deliveries that took `duration` (BEGIN to COMMIT).
    package func recordCommit(batchSize: Int, duration: Duration) {
        commitBatchSize.record(batchSize)
        commitSeconds.recordNanoseconds(Self.nanoseconds(duration))
    }

    /// A failed database write or an unreachable database when one was needed.
    /// A request answered 503 `registry_unavailable`.
    package func recordRegistryUnavailable() {
        add(\.registryUnavailable)
        registryUnavailable.increment()
    }

    /// Whether the registry snapshot is past `--registry-max-age` (the bookkeeper notices both edges).
    package func recordRegistryStale(_ stale: Bool) {
        registryStale.record(stale ? 1 : 0)
    }

    package func recordDatabaseError() {
        add(\.databaseErrors)
        databaseErrors.increment()
    }

    /// A refusal queued for the `rejections` table (`stored`) or dropped by the rate limit.
    package func recordRejection(stored: Bool) {
        if stored {
            add(\.rejectionsStored)
        } else {
            add(\.rejectionsDropped)
            rejectionsDropped.increment()
        }
    }

    /// A TCP connection was accepted.
    package func connectionOpened() { openConnections.increment() }

    /// A request over a per-client limit: `throttled_total{client,reason}` (clients are registered ids, so
    /// the series are bounded by the registry).
    package func recordThrottled(client: String, reason: String) {
        let key = client + "\u{0}" + reason
        let counter = throttledCounters.withLock { cache in
            if let counter = cache[key] { return counter }
            let counter = CoreMetrics.Counter(
                label: Name.throttled, dimensions: [("client", client), ("reason", reason)], factory: factory)
            cache[key] = counter
            return counter
        }
        counter.increment()
    }

    /// A connection closed at once because `--max-connections` were open.
    package func recordConnectionRefused() { connectionsRefused.increment() }
    /// An accepted connection was closed.
    package func connectionClosed() { openConnections.decrement() }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    // MARK: - Expiry

    /// Replaces the certificate expiry series with those of `context` (start and every reload): the
    /// server certificate, each CA, and each CRL's next update (subject = the CRL issuer, SPEC).
    package func updateCertificateExpiry(_ context: TLSContext) {
        var deadlines: [ExpiryGauges.Key: Int64] = [:]
        deadlines[.certificate(kind: "server", subject: context.serverCertificate.subject)] =
            context.serverCertificate.notAfter
        for authority in context.caCertificates {
            deadlines[.certificate(kind: "ca", subject: authority.subject)] = authority.notAfter
        }
        for crl in context.crls {
            guard let next = crl.nextUpdate else { continue }
            let key = ExpiryGauges.Key.certificate(kind: "crl_next_update", subject: crl.issuer)
            // Several CRLs of one issuer: the earliest next update is the one that matters.
            deadlines[key] = min(deadlines[key] ?? .max, next)
        }
        expiry.replaceCertificates(deadlines)
    }

    /// Replaces every client's last seen certificate notAfter (unix seconds), from the clients table.
    package func replaceClientCertificateExpiry(_ notAfter: [ClientKey: Int64]) {
        expiry.replaceClients(notAfter)
    }

    /// Updates some clients' last seen certificate notAfter (unix seconds), e.g. just written to the
    /// clients table.
    package func updateClientCertificateExpiry(_ notAfter: [ClientKey: Int64]) {
        expiry.updateClients(notAfter)
    }

    // MARK: - Exposition

    /// The Prometheus text exposition (format 0.0.4) of every series, with the expiry gauges computed
    /// for `now` (unix seconds).
    package func render(now: Int64) -> [UInt8] {
        expiry.refresh(now: now)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16_384)
        registry.emit(into: &buffer)
        return buffer
    }
}

/// A `requests_total` label set.
struct RequestKey: Hashable, Sendable {
    var status: Int
    var endpoint: String
}

/// The "seconds until" gauges: deadlines are kept, and the gauges are set from them when `/metrics` is
/// rendered, so the value is right at every scrape without a timer. Series whose subject disappeared
/// (a CA removed by a reload, a client removed) are destroyed.
///
/// Sendable without `@unchecked`: the state is in a `Mutex`, the factory is Sendable.
private final class ExpiryGauges: Sendable {
    enum Key: Hashable, Sendable {
        case certificate(kind: String, subject: String)
        case client(ClientKey)
    }

    private struct Series {
        var deadline: Int64
        var gauge: CoreMetrics.Gauge
    }

    private let factory: any MetricsFactory
    private let series = Mutex<[Key: Series]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    func replaceCertificates(_ deadlines: [Key: Int64]) {
        replace(deadlines) { if case .certificate = $0 { true } else { false } }
    }

    func replaceClients(_ notAfter: [ClientKey: Int64]) {
        var deadlines: [Key: Int64] = [:]
        for (client, deadline) in notAfter { deadlines[.client(client)] = deadline }
        replace(deadlines) { if case .client = $0 { true } else { false } }
    }

    func updateClients(_ notAfter: [ClientKey: Int64]) {
        series.withLock { series in
            for (client, deadline) in notAfter {
                let key = Key.client(client)
                if series[key] != nil {
                    series[key]?.deadline = deadline
                } else {
                    series[key] = Series(deadline: deadline, gauge: makeGauge(key))
                }
            }
        }
    }

    /// Replaces the series `inScope` selects with `deadlines`.
    private func replace(_ deadlines: [Key: Int64], inScope: (Key) -> Bool) {
        series.withLock { series in
            for (key, old) in series where inScope(key) && deadlines[key] == nil {
                old.gauge.destroy()
                series[key] = nil
            }
            for (key, deadline) in deadlines {
                if series[key] != nil {
                    series[key]?.deadline = deadline
                } else {
                    series[key] = Series(deadline: deadline, gauge: makeGauge(key))
                }
            }
        }
    }

    func refresh(now: Int64) {
        series.withLock { series in
            for entry in series.values { entry.gauge.record(entry.deadline - now) }
        }
    }

    private func makeGauge(_ key: Key) -> CoreMetrics.Gauge {
        switch key {
        case .certificate(let kind, let subject):
            return CoreMetrics.Gauge(
                label: ReceiverStatistics.Name.certificateExpiry, dimensions: [("kind", kind), ("subject", subject)],
                factory: factory)
        case .client(let client):
            return CoreMetrics.Gauge(
                label: ReceiverStatistics.Name.clientCertificateExpiry, dimensions: [("client", client.id)],
                factory: factory)
        }
    }
}
