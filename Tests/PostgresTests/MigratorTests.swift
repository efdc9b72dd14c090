import Dispatch
import Foundation
import Postgres
import Synchronization
import TestSupport
import Testing

/// `Migrator` with the repository's `sql/` and with broken directories, on fresh databases.
@Suite("Migrator")
struct MigratorTests {
    /// SPEC "Tables": every column it names, with the type it gives (PostgreSQL's `udt_name`).
    static let specColumns: [String: [String: String]] = [
        "clients": [
            "client_id": "text", "description": "text", "enabled": "bool", "endpoints": "_text",
            "pins_sha256": "_text", "issuers_sha256": "_text", "created_at": "timestamptz",
            "updated_at": "timestamptz", "last_seen_at": "timestamptz", "last_cert_not_after": "timestamptz",
        ],
        "deliveries": [
            "id": "uuid", "received_at": "timestamptz", "client_id": "text", "endpoint": "text", "method": "text",
            "path": "text", "query": "text", "headers": "jsonb", "content_type": "text", "body": "bytea",
            "body_json": "jsonb", "body_sha256": "text", "idempotency_key": "text", "cert_subject": "text",
            "cert_issuer": "text", "cert_serial": "text", "cert_sha256": "text", "cert_not_after": "timestamptz",
            "remote_addr": "inet", "tls_version": "text", "tls_cipher": "text", "processing_state": "text",
            "claimed_at": "timestamptz", "processed_at": "timestamptz",
        ],
        "rejections": [
            "id": "int8", "at": "timestamptz", "stage": "text", "reason": "text", "detail": "text",
            "remote_addr": "inet", "client_id": "text", "endpoint": "text", "cert_subject": "text",
            "cert_issuer": "text", "cert_serial": "text", "cert_sha256": "text",
        ],
    ]

    @Test("on an empty database every file applies and the three tables have SPEC's columns and types")
    func appliesEverythingOnAnEmptyDatabase() throws {
        let connection = try TestDatabase.create(migrated: false).connect()
        let migrator = try Migrator(directory: TestDatabase.sqlDirectory)
        let files = migrator.migrations.map(\.name)
        #expect(!files.isEmpty)
        #expect(try migrator.pending(on: connection).map(\.name) == files)

        var announced: [String] = []
        let applied = try migrator.apply(on: connection) { announced.append($0.name) }
        #expect(applied == files)
        #expect(announced == files)

        for (table, columns) in Self.specColumns {
            let result = try connection.query(
                """
                SELECT column_name, udt_name FROM information_schema.columns
                WHERE table_schema = 'public' AND table_name = $1
                """, [.text(table)])
            var found: [String: String] = [:]
            for row in 0..<result.rowCount {
                found[result.string(row, 0) ?? ""] = result.string(row, 1)
            }
            for (column, type) in columns.sorted(by: { $0.key < $1.key }) {
                #expect(
                    found[column] == type, "\(table).\(column) should be \(type), found \(found[column] ?? "nothing")")
            }
        }
        let recorded = try connection.query("SELECT version, name FROM webhookd_migrations ORDER BY version")
        #expect((0..<recorded.rowCount).compactMap { recorded.string($0, 1) } == files)
    }

    @Test("running it again applies nothing and changes nothing")
    func secondRunIsANoOp() throws {
        let connection = try TestDatabase.create(migrated: true).connect()
        let migrator = try Migrator(directory: TestDatabase.sqlDirectory)
        #expect(try migrator.pending(on: connection).isEmpty)
        var announced: [String] = []
        #expect(try migrator.apply(on: connection) { announced.append($0.name) }.isEmpty)
        #expect(announced.isEmpty)
        let count = try connection.query("SELECT count(*) FROM webhookd_migrations").int(0, 0)
        #expect(count == migrator.migrations.count)
    }

    @Test("two migrators on two connections at once both succeed and each migration is recorded once")
    func concurrentMigratorsSerialise() throws {
        let database = try TestDatabase.create(migrated: false)
        let migrator = try Migrator(directory: TestDatabase.sqlDirectory)
        let outcomes = Outcomes()
        let connected = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let finished = DispatchGroup()
        for _ in 0..<2 {
            finished.enter()
            // Real threads, so the one waiting on the advisory lock blocks nobody else's work.
            Thread.detachNewThread {
                defer { finished.leave() }
                let connection: PGConnection
                do {
                    connection = try database.connect()
                } catch {
                    connected.signal()
                    outcomes.record(.failure(String(describing: error)))
                    return
                }
                connected.signal()
                go.wait()
                do {
                    outcomes.record(.success(try migrator.apply(on: connection)))
                } catch {
                    outcomes.record(.failure(String(describing: error)))
                }
            }
        }
        // Both sessions exist before either starts, so the two applies really overlap.
        for _ in 0..<2 { connected.wait() }
        go.signal()
        go.signal()
        #expect(finished.wait(timeout: .now() + 60) == .success)

        let results = outcomes.all
        #expect(results.count == 2)
        var applied: [[String]] = []
        for result in results {
            switch result {
            case .success(let names): applied.append(names)
            case .failure(let message): Issue.record("a concurrent migrator failed: \(message)")
            }
        }
        // One of them did the work, the other found nothing pending.
        #expect(applied.sorted { $0.count < $1.count } == [[], migrator.migrations.map(\.name)])
        let connection = try database.connect()
        let rows = try connection.query("SELECT version, count(*) FROM webhookd_migrations GROUP BY version")
        #expect(rows.rowCount == migrator.migrations.count)
        #expect((0..<rows.rowCount).allSatisfy { rows.int($0, 1) == 1 })
    }

    @Test("a failing migration names its file and line, is rolled back whole, and earlier ones stay applied")
    func brokenMigrationRollsBackAndNamesFileAndLine() throws {
        let directory = try makeMigrationDirectory([
            "001_good.sql": "CREATE TABLE good_one (id int);\nINSERT INTO good_one VALUES (1);\n",
            "002_broken.sql": """
            CREATE TABLE from_two (id int);
            INSERT INTO from_two VALUES (2);
            SELECT * FROM missing_in_two;
            CREATE TABLE after_error (id int);

            """,
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }  // Only tidying /tmp.
        let connection = try TestDatabase.create(migrated: false).connect()
        let migrator = try Migrator(directory: directory)

        let error = #expect(throws: PostgresError.self) { try migrator.apply(on: connection) }
        #expect(error?.code == .migrationFailed)
        #expect(error?.message.contains("002_broken.sql") == true)
        #expect(error?.message.contains("line 3") == true)
        #expect(error?.message.contains("missing_in_two") == true)
        #expect(error?.sqlState == "42P01")

        let state = try connection.query(
            "SELECT to_regclass('good_one') IS NOT NULL, to_regclass('from_two') IS NULL, to_regclass('after_error') IS NULL"
        )
        #expect(state.bool(0, 0) == true)
        #expect(state.bool(0, 1) == true)
        #expect(state.bool(0, 2) == true)
        let versions = try connection.query("SELECT version FROM webhookd_migrations ORDER BY version")
        #expect((0..<versions.rowCount).compactMap { versions.int($0, 0) } == [1])
        #expect(try migrator.pending(on: connection).map(\.name) == ["002_broken.sql"])
        // The session is usable after the failure (no transaction left open).
        #expect(try connection.query("SELECT count(*) FROM good_one").int(0, 0) == 1)

        // Once the file is fixed, only it applies.
        try "CREATE TABLE from_two (id int);\n".write(
            toFile: directory + "/002_broken.sql", atomically: true, encoding: .utf8)
        #expect(try Migrator(directory: directory).apply(on: connection) == ["002_broken.sql"])
    }

    @Test("an unreadable or empty migrations directory is a configuration error naming it")
    func missingDirectoryIsAConfigurationError() throws {
        let missing = "/tmp/webhookd-no-such-dir-\(TestDatabase.randomHex(byteCount: 8))"
        let error = #expect(throws: PostgresError.self) { try Migrator(directory: missing) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains(missing) == true)

        let empty = try makeMigrationDirectory(["README.md": "no SQL here"])
        defer { try? FileManager.default.removeItem(atPath: empty) }  // Only tidying /tmp.
        let emptyError = #expect(throws: PostgresError.self) { try Migrator(directory: empty) }
        #expect(emptyError?.message.contains(empty) == true)
    }
}

/// Results collected from several threads.
private final class Outcomes: Sendable {
    enum Outcome: Sendable {
        case success([String])
        case failure(String)
    }
    private let results = Mutex<[Outcome]>([])

    func record(_ outcome: Outcome) {
        results.withLock { $0.append(outcome) }
    }

    var all: [Outcome] { results.withLock { $0 } }
}

/// A new directory under /tmp holding `files` (name → contents).
func makeMigrationDirectory(_ files: [String: String]) throws -> String {
    let directory = "/tmp/webhookd-migrations-\(TestDatabase.randomHex(byteCount: 8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, contents) in files {
        try contents.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
    }
    return directory
}
