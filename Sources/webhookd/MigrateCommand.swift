import ArgumentParser
import Postgres

struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply the SQL migrations in sql/ that are not applied yet (idempotent).")

    @OptionGroup var database: DatabaseOptions

    func run() throws {
        try reportingFailures {
            let migrator = try database.migrator()
            let applied = try database.withConnection { connection in
                do {
                    return try migrator.apply(on: connection) { print("applying \($0.name)") }
                } catch let error as PostgresError {
                    throw CommandFailure.failure(error.message)
                }
            }
            print(applied.isEmpty ? "database is up to date" : "applied \(applied.count) migration(s)")
        }
    }
}
