package import Posix
package import TLS

/// Everything `webhookd serve` configures, validated by the command before the server starts.
package struct ReceiverConfiguration: Sendable {
    /// `--listen`.
    package var listen: SocketAddress
    /// Server identity, client CA bundle, CRLs, verify depth.
    package var tls: TLSServerConfiguration
    /// `--workers`: event-loop threads, each with its own SO_REUSEPORT listener.
    package var workers: Int
    /// `--max-body-bytes`.
    package var maxBodyBytes: Int = 1_048_576
    /// `--handshake-timeout`, `--header-timeout`, `--body-timeout`, `--idle-timeout`.
    package var handshakeTimeout: Duration = .seconds(10)
    package var headerTimeout: Duration = .seconds(10)
    package var bodyTimeout: Duration = .seconds(30)
    package var idleTimeout: Duration = .seconds(60)
    /// `--max-connections`: open connections across all workers; past it, accepting pauses.
    package var maxConnections = 10_000
    /// `--client-max-connections`: a client's open connections when its row sets no `max_connections`.
    package var clientMaxConnections = 256
    /// `--max-buffered-bytes`: body bytes held in memory across all connections; past it, connections
    /// stop reading (TCP backpressure) and a body that cannot proceed in time gets 503.
    package var maxBufferedBytes = 268_435_456
    /// `--client-max-buffered-bytes`: the share of it one client may hold (its stalled bodies wait on
    /// its own share, not on everyone's).
    package var clientMaxBufferedBytes = 67_108_864
    /// `--body-deadline`: a whole body must arrive within this after its head, however steady the trickle.
    package var bodyDeadline: Duration = .seconds(60)
    /// After this many requests a connection answers with `Connection: close`.
    package var maxRequestsPerConnection = 1_000
    /// `--rejections-per-second`.
    package var rejectionsPerSecond = 100
    /// Database writer threads (each one libpq session) and their batch limit. One: a second session's
    /// commits contended with the first's for the WAL flush (`make bench`, 2 against 1, two rounds: commits
    /// of 13.5–13.9 rows took 4.1–4.5 ms against 24.1–24.8 rows in 3.4–3.6 ms; PostgreSQL CPU per delivery
    /// at c=64 142–165 µs against 113–118 µs; p99 at c=16 10.6–21.4 ms against 9.7–9.8 ms).
    package var writerThreads = 1
    package var maxBatch = 256
    /// A delivery not committed within this is answered 503 (the database is stuck, not down).
    package var commitTimeout: Duration = .seconds(30)
    /// `--registry-max-age`: a registry snapshot older than this is not trusted; requests get 503
    /// `registry_unavailable` until a refresh succeeds (fail closed: a removed client never keeps 200s).
    package var registryMaxAge: Duration = .seconds(60)
    /// SIGTERM: how long in-flight requests get before the rest are answered 503.
    /// With the abort (0.5 s) and the writers' and bookkeeper's bounded stops (2 s), exit stays within 10 s.
    package var drainTimeout: Duration = .seconds(7)
    /// 404/405 answers keep the connection when the rest of the body (at most this much) drains.
    package var maxDrainBytes = 65_536
    /// `--admin-listen`: where `/healthz`, `/readyz` and `/metrics` are served over plain HTTP; nil = off.
    /// `serve` defaults to 127.0.0.1:9090; the value's own default is off, so nothing binds a fixed port
    /// unless asked.
    package var adminListen: SocketAddress?
    /// `--signature-tolerance`: how far a signed timestamp may be from now, either way (Standard Webhooks, Stripe).
    package var signatureToleranceSeconds: Int64 = 300
    /// `--log-requests`: one log line per answered request (never a body or header value).
    package var logRequests = false

    package init(listen: SocketAddress, tls: TLSServerConfiguration, workers: Int) {
        self.listen = listen
        self.tls = tls
        self.workers = workers
    }
}
