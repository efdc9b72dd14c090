import CoreMetrics
import Synchronization

/// Installs the process-wide swift-metrics backend once (STYLE.md §32: process-wide setup in the start
/// path).
///
/// The receiver's own metrics are made with their server's factory explicitly, so they never depend
/// on this; bootstrapping routes anything else in the process that reports through swift-metrics
/// (libraries, future code using `Counter(label:)`) into the same registry `/metrics` renders.
package enum MetricsSetup {
    private static let bootstrapped = Mutex(false)

    /// Bootstraps `MetricsSystem` with `statistics`' Prometheus factory. The first call wins; later calls
    /// (a second server in the same process) do nothing instead of tripping swift-metrics' precondition.
    package static func bootstrap(_ statistics: ReceiverStatistics) {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        MetricsSystem.bootstrap(statistics.factory)
    }
}
