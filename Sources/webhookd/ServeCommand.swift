import ArgumentParser
import Foundation
import Logging
import Operations
import Posix
import Postgres
import Receiver

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Receive webhooks over mutual TLS and commit them to PostgreSQL.")

    @OptionGroup var options: ServeOptions
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        try reportingFailures {
            let format = try options.resolvedLogFormat()
            let retention = try options.retentionPolicy()
            let configuration = try options.configuration()
            let wait = try options.databaseWaitDuration()
            let migrator = try database.migrator()
            try ReceiverRunner.run(
                configuration: configuration, database: database, migrator: migrator, logFormat: format,
                databaseWait: wait, retention: retention)
        }
    }
}

/// The start sequence shared by `serve` and `dev`: process-wide setup, database, server, signals.
enum ReceiverRunner {
    static func run(
        configuration: ReceiverConfiguration, database: DatabaseOptions, migrator: Migrator?,
        logFormat: LineLogHandler.Format, databaseWait: Duration, retention: RetentionPolicy? = nil,
        onReady: (Server, DatabaseHandle) -> Void = { _, _ in }
    ) throws {
        LogSetup.bootstrap(format: logFormat)
        // STYLE.md §32: once, before any thread starts, so every thread inherits the mask.
        ignoreSIGPIPE()
        ProcessLimits.raiseOpenFileLimit()
        let signals = try terminationSignals()
        let handle = try database.open()
        defer { handle.release() }
        let server = Server(configuration: configuration, database: handle, logger: Logger(label: "webhookd"))
        MetricsSetup.bootstrap(server.statistics)
        do {
            try server.start(migrator: migrator, databaseWait: databaseWait)
        } catch {
            throw CommandFailure.usage(error.message)
        }
        if let retention {
            try RetentionSchedule.start(policy: retention, database: handle, logger: Logger(label: "webhookd"))
        }
        onReady(server, handle)
        server.runUntilTerminated(signals: signals)
    }
}
