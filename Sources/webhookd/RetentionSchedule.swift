import Foundation
import Logging
import Operations
import Posix
import Postgres
import Receiver

/// `serve --retention-keep`: runs `Operations.Retention` at start and then every `interval` on a thread and a
/// database session of its own, off the request path. A failed run is logged and retried at the next tick;
/// it never stops the server.
enum RetentionSchedule {
    static func start(
        policy: RetentionPolicy, database: DatabaseHandle, logger: Logger, interval: Duration = .seconds(3_600)
    ) throws {
        do {
            // The thread runs until the process exits (it holds no lock between runs; a run cut short by the
            // exit leaves only whole batches committed).
            _ = try startThread(name: "retention") {
                while true {
                    runOnce(policy: policy, database: database, logger: logger)
                    Thread.sleep(forTimeInterval: Double(interval.components.seconds))
                }
            }
        } catch {
            throw CommandFailure.failure("cannot start the retention thread: \(error)")
        }
    }

    static func runOnce(policy: RetentionPolicy, database: DatabaseHandle, logger: Logger) {
        do {
            let connection = try database.connect(applicationName: "webhookd retention")
            defer { connection.close() }
            let report = try Retention(connection: connection).run(policy, dryRun: false)
            logger.info("retention: \(report.line)")
        } catch {
            logger.error("retention run failed; retrying at the next run", metadata: ["error": "\(error)"])
        }
    }
}
