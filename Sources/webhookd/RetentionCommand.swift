import ArgumentParser
import Operations

/// `webhookd retention`: deletes old deliveries and rejections and empties old bodies. Wiring only: the
/// logic is `Operations.Retention`, which `serve --retention-keep` runs too.
struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Delete deliveries and rejections older than --keep; optionally empty older bodies first.")

    @Option(help: "Delete deliveries and rejections received longer ago than this: 30s, 15m, 2h, 7d")
    var keep: String
    @Option(
        name: .customLong("purge-bodies-after"),
        help: "Empty the bodies of deliveries received longer ago than this (shorter than --keep)")
    var purgeBodiesAfter: String?
    @Flag(name: .customLong("dry-run"), help: "Count what would be removed; change nothing") var dryRun = false
    @Option(name: .customLong("batch-size"), help: .hidden) var batchSize: Int = Retention.defaultBatchSize
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        try reportingFailures {
            let policy: RetentionPolicy
            do throws(RetentionError) {
                policy = try RetentionPolicy(keep: keep, purgeBodiesAfter: purgeBodiesAfter)
            } catch {
                throw CommandFailure.usage(error.message)
            }
            guard batchSize > 0 else { throw CommandFailure.usage("--batch-size must be positive") }
            let report = try database.withConnection { connection in
                do throws(RetentionError) {
                    return try Retention(connection: connection, batchSize: batchSize).run(policy, dryRun: dryRun)
                } catch {
                    throw error.isUsageProblem
                        ? CommandFailure.usage(error.message) : CommandFailure.failure(error.message)
                }
            }
            print(report.line)
        }
    }
}
