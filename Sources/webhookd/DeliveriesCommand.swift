import ArgumentParser
import Foundation
import Operations
import Posix
import Postgres
import Receiver

/// `webhookd deliveries list|show|tail`: read deliveries without writing SQL. Wiring only: the queries and
/// their formatting live in `Receiver.DeliveryQueries`.
struct DeliveriesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliveries",
        abstract: "Read stored deliveries: list them, show one, or follow new ones live.",
        subcommands: [List.self, Show.self, Tail.self]
    )

    /// Runs `body` with the queries on the configured database; bad input and an unreachable database exit
    /// 64, a missing delivery or another database failure exits 1.
    static func withQueries<T>(_ options: DatabaseOptions, _ body: (DeliveryQueries) throws -> T) throws -> T {
        try options.withConnection { connection in
            do {
                return try body(DeliveryQueries(connection: connection))
            } catch let error as DeliveryQueryError {
                throw error.isUsageProblem ? CommandFailure.usage(error.message) : CommandFailure.failure(error.message)
            }
        }
    }

    /// The filter flags `list` and `tail` share; each also reads its `WEBHOOKD_<FLAG>` variable.
    struct FilterOptions: ParsableArguments {
        @Option(help: "Only this client's deliveries (env WEBHOOKD_CLIENT)") var client: String?
        @Option(help: "Only deliveries to this endpoint (env WEBHOOKD_ENDPOINT)") var endpoint: String?
        @Option(help: "Only deliveries since: 30s, 15m, 2h, 7d or an ISO-8601 timestamp (env WEBHOOKD_SINCE)")
        var since: String?

        func filter(limit: Int) throws -> DeliveryFilter {
            do {
                return try DeliveryFilter(
                    clientID: Environment.value(client, flag: "client"),
                    endpoint: Environment.value(endpoint, flag: "endpoint"),
                    since: try Environment.value(since, flag: "since").map { text throws(DeliveryQueryError) in
                        try DeliverySince(parsing: text)
                    },
                    limit: limit)
            } catch {
                throw CommandFailure.usage(error.message)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the newest deliveries, newest first.")
        @OptionGroup var filter: FilterOptions
        @Option(help: "Most deliveries shown (env WEBHOOKD_LIMIT) [50]") var limit: Int?
        @Flag(help: "Print JSON (an array of objects with SPEC's column names and body_json)") var json = false
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                let filter = try filter.filter(limit: try Environment.integer(limit, flag: "limit", default: 50))
                let deliveries = try DeliveriesCommand.withQueries(database) { try $0.list(filter) }
                if json {
                    print(DeliverySummary.json(deliveries))
                } else if deliveries.isEmpty {
                    print("no deliveries match")
                } else {
                    print(DeliverySummary.table(deliveries))
                }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one delivery: metadata, headers, and the body (JSON pretty-printed, binary as hex).")
        @Argument(help: "The delivery id (a UUID)") var id: String
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                let detail = try DeliveriesCommand.withQueries(database) { try $0.show(id) }
                print(detail.text)
            }
        }
    }

    struct Tail: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow new deliveries live (LISTEN), one line each, until interrupted.",
            discussion: """
                Each line: received_at, id, client, endpoint, body bytes, content type, idempotency key. \
                Stops with exit 0 on SIGINT (Ctrl-C), SIGTERM or SIGHUP.
                """)
        @OptionGroup var filter: FilterOptions
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                let filter = try filter.filter(limit: DeliveryFilter.maximumLimit)
                try DeliveriesCommand.withQueries(database) { queries in
                    // Signals become data once the database is open (the embedded cluster, if started, runs
                    // with its own mask), so Ctrl-C ends the loop and withConnection releases the cluster.
                    let signals = try terminationSignals()
                    try queries.startFollowing()
                    // stderr, so that stdout carries only delivery lines (for pipes).
                    FileHandle.standardError.write(Data("listening for new deliveries (Ctrl-C to stop)\n".utf8))
                    try queries.follow(filter, shouldStop: { signals.next(timeout: .zero) != nil }) { delivery in
                        // write(2) directly: stdout to a pipe or file is block-buffered by stdio.
                        FileHandle.standardOutput.write(Data((delivery.line + "\n").utf8))
                    }
                }
            }
        }
    }
}
