import Foundation

/// One SQL migration file: `NNN_name.sql` in the migrations directory.
package struct Migration: Sendable, Equatable {
    /// The number before the first underscore; migrations apply in this order.
    package var version: Int
    /// The file name, e.g. `001_schema.sql`.
    package var name: String
    /// The file's path, for messages.
    package var path: String
    /// The SQL text.
    package var sql: String
}

/// Applies the SQL files of a directory in order, each in its own transaction, recorded in
/// `webhookd_migrations`. Two processes migrating at once serialise on an advisory lock, so the second
/// finds nothing pending.
package struct Migrator: Sendable {
    /// The migrations found, in version order.
    package let migrations: [Migration]
    /// Key of the session advisory lock held while migrating (ASCII "whkdmigr").
    private static let advisoryLockKey = "8604529237614225778"

    /// Reads every `NNN_*.sql` file of `directory`.
    /// - Throws: `.invalidConfiguration` when the directory cannot be read or two files share a version.
    package init(directory: String) throws(PostgresError) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw PostgresError(.invalidConfiguration, "cannot read the migrations directory \(directory)")
        }
        var found: [Migration] = []
        for name in names where name.hasSuffix(".sql") {
            guard let prefix = name.split(separator: "_", maxSplits: 1).first, let version = Int(prefix) else {
                continue
            }
            let path = (directory as NSString).appendingPathComponent(name)
            guard let sql = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw PostgresError(.invalidConfiguration, "cannot read migration \(path)")
            }
            if let clash = found.first(where: { $0.version == version }) {
                throw PostgresError(
                    .invalidConfiguration, "migrations \(clash.name) and \(name) share version \(version)")
            }
            found.append(Migration(version: version, name: name, path: path, sql: sql))
        }
        guard !found.isEmpty else {
            throw PostgresError(.invalidConfiguration, "no NNN_name.sql migrations in \(directory)")
        }
        migrations = found.sorted { $0.version < $1.version }
    }

    /// Finds the `sql/` directory: the explicit one if given, else `./sql`, else next to or above the
    /// executable (a build tree or an install prefix's `share/webhookd/sql`).
    package static func locateDirectory(explicit: String?, executablePath: String) -> String? {
        if let explicit { return explicit }
        let manager = FileManager.default
        func holdsMigrations(_ directory: String) -> Bool {
            let names = (try? manager.contentsOfDirectory(atPath: directory)) ?? []
            return names.contains { $0.hasSuffix(".sql") && $0.first?.isNumber == true }
        }
        let cwd = manager.currentDirectoryPath + "/sql"
        if holdsMigrations(cwd) { return cwd }
        var directory = (executablePath as NSString).deletingLastPathComponent
        for _ in 0..<6 {
            for candidate in [directory + "/sql", directory + "/share/webhookd/sql"] where holdsMigrations(candidate) {
                return candidate
            }
            directory = (directory as NSString).deletingLastPathComponent
        }
        return nil
    }

    /// The migrations not yet applied on this database.
    package func pending(on connection: PGConnection) throws(PostgresError) -> [Migration] {
        let exists = try connection.query("SELECT to_regclass('public.webhookd_migrations') IS NOT NULL")
        guard exists.bool(0, 0) == true else { return migrations }
        let applied = try connection.query("SELECT version FROM webhookd_migrations")
        let versions = Set((0..<applied.rowCount).compactMap { applied.int($0, 0) })
        return migrations.filter { !versions.contains($0.version) }
    }

    /// Applies every pending migration, each in one transaction, under an advisory lock.
    /// - Parameter progress: called with each file name before it is applied.
    /// - Returns: the names of the files applied (empty when there was nothing to do).
    /// - Throws: `.migrationFailed` naming the file and line; that file's changes are rolled back.
    @discardableResult
    package func apply(on connection: PGConnection, progress: (Migration) -> Void = { _ in }) throws(PostgresError)
        -> [String]
    {
        try connection.query("SELECT pg_advisory_lock($1::bigint)", [.text(Self.advisoryLockKey)])
        defer {
            // The lock also ends with the session; a failed unlock on a broken session changes nothing.
            _ = try? connection.query("SELECT pg_advisory_unlock($1::bigint)", [.text(Self.advisoryLockKey)])
        }
        try connection.executeScript(
            """
            CREATE TABLE IF NOT EXISTS webhookd_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        var applied: [String] = []
        for migration in try pending(on: connection) {
            progress(migration)
            do {
                try connection.query("BEGIN")
                try connection.executeScript(migration.sql)
                try connection.query(
                    "INSERT INTO webhookd_migrations (version, name) VALUES ($1, $2)",
                    [.int(migration.version), .text(migration.name)])
                try connection.query("COMMIT")
            } catch {
                // The transaction is already aborted; ROLLBACK only ends it. Its own failure (a dead
                // session) does not change what we report.
                _ = try? connection.query("ROLLBACK")
                let line = error.statementLine.map { " line \($0)" } ?? ""
                throw PostgresError(
                    .migrationFailed, "migration \(migration.path)\(line) failed: \(error.message)",
                    sqlState: error.sqlState, detail: error.detail)
            }
            applied.append(migration.name)
        }
        return applied
    }
}
