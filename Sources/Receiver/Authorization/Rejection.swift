package import Logging
import Posix
import Synchronization
package import TLS

/// One refusal (handshake or authorization), as logged and as stored in `rejections`.
package struct Rejection: Sendable {
    package enum Stage: String, Sendable {
        case handshake, authorization
    }
    package var stage: Stage
    package var reason: RefusalReason
    package var detail: String
    package var remoteAddress: String
    package var clientID: String?
    package var endpoint: String?
    package var certificate: PeerCertificate?

    package init(
        stage: Stage, reason: RefusalReason, detail: String, remoteAddress: String, clientID: String? = nil,
        endpoint: String? = nil, certificate: PeerCertificate? = nil
    ) {
        self.stage = stage
        self.reason = reason
        self.detail = detail
        self.remoteAddress = remoteAddress
        self.clientID = clientID
        self.endpoint = endpoint
        self.certificate = certificate
    }
}

/// Logs every refusal with its reason code, peer and certificate facts, and queues it for the
/// `rejections` table at a bounded rate (a token bucket of `perSecond`), so a flood of bad clients
/// cannot become a flood of inserts. Refusals over the rate are counted and logged in aggregate.
package final class RejectionRecorder: Sendable {
    private let queue: HandoffQueue<Rejection>
    private let perSecond: Int
    private let bucket: Mutex<Bucket>
    private let statistics: ReceiverStatistics
    private let logger: Logger

    /// Handshakes that failed before any certificate was seen (plain HTTP, scanners), by reason: logged
    /// in aggregate, one line per interval, because a flood of them must not flood the log.
    private let anonymousFailures = Mutex<(counts: [String: Int], reportedAt: ContinuousClock.Instant)>(([:], .now))
    /// How often the anonymous-failure line is written (when there was any).
    static let anonymousReportInterval: Duration = .seconds(10)

    private struct Bucket {
        var tokens: Double
        var refilledAt: ContinuousClock.Instant
        var droppedSinceReport = 0
    }

    package init(perSecond: Int, statistics: ReceiverStatistics, logger: Logger) {
        self.queue = HandoffQueue(waker: nil)
        self.perSecond = perSecond
        self.bucket = Mutex(Bucket(tokens: Double(perSecond), refilledAt: .now))
        self.statistics = statistics
        self.logger = logger
    }

    /// Logs the refusal and, within the rate, queues it for storage. Any thread.
    package func record(_ rejection: Rejection) {
        var metadata: Logger.Metadata = [
            "reason": "\(rejection.reason.code)", "stage": "\(rejection.stage.rawValue)",
            "peer": "\(rejection.remoteAddress)", "detail": "\(rejection.detail)",
        ]
        if let endpoint = rejection.endpoint { metadata["endpoint"] = "\(endpoint)" }
        if let client = rejection.clientID { metadata["client"] = "\(client)" }
        if let certificate = rejection.certificate {
            metadata["subject"] = "\(certificate.subject)"
            metadata["issuer"] = "\(certificate.issuer)"
            metadata["serial"] = "\(certificate.serialHex)"
            metadata["sha256"] = "\(certificate.sha256)"
        }
        let admitted = bucket.withLock { bucket in
            let now = ContinuousClock.now
            let elapsed = now - bucket.refilledAt
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(Double(perSecond), bucket.tokens + seconds * Double(perSecond))
            bucket.refilledAt = now
            guard bucket.tokens >= 1 else {
                bucket.droppedSinceReport += 1
                return false
            }
            bucket.tokens -= 1
            return true
        }
        statistics.recordRejection(stored: admitted)
        // SPEC: refusals beyond the rate are logged in aggregate (by `drain`), not one by one.
        if admitted {
            logger.warning("refused", metadata: metadata)
            queue.push(rejection)
        }
    }

    /// Counts a handshake that failed without a certificate (nothing to store: no identity). Any thread.
    package func countAnonymousFailure(reason: RefusalReason) {
        anonymousFailures.withLock { $0.counts[reason.code, default: 0] += 1 }
    }

    /// Writes the anonymous-failure line when the interval is over and something was counted.
    private func reportAnonymousFailures(now: ContinuousClock.Instant) {
        let counts: [String: Int]? = anonymousFailures.withLock { state in
            guard now - state.reportedAt >= Self.anonymousReportInterval, !state.counts.isEmpty else { return nil }
            defer { state = ([:], now) }
            return state.counts
        }
        guard let counts else { return }
        var metadata: Logger.Metadata = ["interval_s": "\(Self.anonymousReportInterval.components.seconds)"]
        for (reason, count) in counts { metadata[reason] = "\(count)" }
        logger.info("handshakes failed without a client certificate", metadata: metadata)
    }

    /// Takes the queued rejections (the bookkeeper stores them) and reports drops in aggregate.
    package func drain() -> [Rejection] {
        reportAnonymousFailures(now: .now)
        let dropped = bucket.withLock { bucket in
            defer { bucket.droppedSinceReport = 0 }
            return bucket.droppedSinceReport
        }
        if dropped > 0 {
            logger.warning(
                "refusals over --rejections-per-second: counted, not logged one by one and not stored",
                metadata: ["count": "\(dropped)", "limit": "\(perSecond)"])
        }
        return queue.drain()
    }
}

extension Rejection {
    /// The `detail` stored with an authorization refusal: what was wrong, in words, never request data
    /// beyond the endpoint name (which authorization already validated).
    static func detail(for reason: RefusalReason, endpoint: String) -> String {
        switch reason {
        case .unknownClient: return "the certificate's CN is not a registered client"
        case .clientDisabled: return "the client is disabled"
        case .endpointNotGranted: return "the client is not granted endpoint \(endpoint)"
        case .pinMismatch: return "the certificate's SHA-256 is not one of the client's pins"
        case .issuerMismatch: return "the certificate's issuer is not one of the client's issuers"
        case .noCN: return "the certificate subject has no usable CN"
        case .ambiguousCN: return "the certificate subject has more than one CN"
        case .expired: return "the client certificate expired during the session"
        default: return reason.code
        }
    }
}
