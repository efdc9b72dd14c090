import ArgumentParser
import Foundation
import Postgres
import Receiver

/// `--database-url` and `--data-dir`, shared by every command that uses the database.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: "PostgreSQL URL (env DATABASE_URL); default: the embedded cluster under --data-dir")
    var databaseURL: String?

    @Option(
        name: .customLong("data-dir"),
        help: "Directory of the embedded PostgreSQL cluster (env WEBHOOKD_DATA_DIR) [.webhookd]")
    var dataDirectory: String?

    @Option(
        name: .customLong("sql-dir"),
        help: "Directory of the SQL migrations (env WEBHOOKD_SQL_DIR) [./sql, or beside the binary]")
    var sqlDirectory: String?

    var location: DatabaseLocation {
        .resolve(
            url: Environment.value(databaseURL, flag: "database-url"),
            dataDirectory: Environment.value(dataDirectory, flag: "data-dir") ?? ".webhookd")
    }

    /// Opens the database (starting the embedded cluster if needed) or fails with exit 64.
    func open() throws -> DatabaseHandle {
        do {
            return try location.open()
        } catch {
            throw CommandFailure.usage(error.message)
        }
    }

    /// Opens the database and one session, runs `body`, and releases both.
    /// - Parameter applicationName: the session's `application_name` (what `clients_audit.actor` records).
    func withConnection<T>(applicationName: String = "webhookd", _ body: (PGConnection) throws -> T) throws -> T {
        let handle = try open()
        defer { handle.release() }
        let connection: PGConnection
        do {
            connection = try handle.connect(applicationName: applicationName)
        } catch {
            throw CommandFailure.usage(error.message)
        }
        defer { connection.close() }
        return try body(connection)
    }

    /// The migrations directory, or exit 64 saying where it looked.
    func migrator() throws -> Migrator {
        let executable =
            CommandLine.arguments.first.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } ?? ""
        guard
            let directory = Migrator.locateDirectory(
                explicit: Environment.value(sqlDirectory, flag: "sql-dir"), executablePath: executable)
        else {
            throw CommandFailure.usage(
                "cannot find the sql/ migrations directory; run from the repository or pass --sql-dir")
        }
        do {
            return try Migrator(directory: directory)
        } catch {
            throw CommandFailure.usage(error.message)
        }
    }
}
