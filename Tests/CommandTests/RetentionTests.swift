import Foundation
import Glibc
import Operations
import Postgres
import Synchronization
import TestSupport
import Testing

/// Retention (issue 12): the pure decisions, `Operations.Retention` against a real database, and the
/// `webhookd retention` / `serve --retention-keep` command lines.
@Suite("Retention")
struct RetentionTests {
    // MARK: - Pure decisions

    @Test("durations use the --since parser; purge must be shorter than keep; messages name the flag")
    func policyParsing() throws {
        let policy = try RetentionPolicy(keep: "90d", purgeBodiesAfter: "30d")
        #expect(policy == RetentionPolicy(keepSeconds: 90 * 86_400, purgeBodiesAfterSeconds: 30 * 86_400))
        #expect(try RetentionPolicy(keep: "2h", purgeBodiesAfter: nil).purgeBodiesAfterSeconds == nil)
        #expect(try RetentionPolicy(keep: "15m", purgeBodiesAfter: "30s").keepSeconds == 900)

        func message(_ keep: String, _ purge: String?, keepFlag: String = "--keep") -> String? {
            do {
                _ = try RetentionPolicy(
                    keep: keep, purgeBodiesAfter: purge, keepFlag: keepFlag, purgeFlag: "--purge-bodies-after")
                return nil
            } catch {
                return error.message
            }
        }
        #expect(message("30d", "30d")?.hasPrefix("--purge-bodies-after 30d must be shorter than --keep 30d") == true)
        #expect(message("1d", "2d")?.hasPrefix("--purge-bodies-after") == true)
        #expect(message("7x", nil)?.hasPrefix("--keep '7x'") == true)
        #expect(message("0d", nil)?.hasPrefix("--keep '0d'") == true)
        #expect(message("2024-05-01", nil)?.hasPrefix("--keep") == true, "a timestamp is not a duration")
        #expect(message("7d", "soon")?.hasPrefix("--purge-bodies-after 'soon'") == true)
        #expect(message("x", nil, keepFlag: "--retention-keep")?.hasPrefix("--retention-keep 'x'") == true)
    }

    @Test("cutoffs are now minus each duration; the report line reads as the issue asks")
    func cutoffsAndReport() throws {
        let now = Date(timeIntervalSince1970: 1_788_000_000)  // 2026-08-29T10:40:00Z
        let cutoffs = try RetentionPolicy(keep: "7d", purgeBodiesAfter: "1d").cutoffs(now: now)
        #expect(cutoffs.delete == now.addingTimeInterval(-7 * 86_400))
        #expect(cutoffs.purge == now.addingTimeInterval(-86_400))
        #expect(RetentionCutoffs.format(cutoffs.delete) == "2026-08-22T10:40:00.000Z")
        #expect(try RetentionPolicy(keep: "7d", purgeBodiesAfter: nil).cutoffs(now: now).purge == nil)

        var report = RetentionReport(
            dryRun: false, cutoffs: cutoffs, deletedDeliveries: 1234, deletedRejections: 1, purgedBodies: 789)
        #expect(
            report.line
                == "deleted 1234 deliveries and 1 rejection received before 2026-08-22T10:40:00.000Z; "
                + "emptied the bodies of 789 deliveries received before 2026-08-28T10:40:00.000Z")
        report.dryRun = true
        report.cutoffs.purge = nil
        #expect(
            report.line == "would delete 1234 deliveries and 1 rejection received before 2026-08-22T10:40:00.000Z")
    }

    // MARK: - Against PostgreSQL

    /// Inserts `count` deliveries received `age` ago (an interval such as `100 days`) with a JSON body.
    static func insertDeliveries(_ connection: PGConnection, age: String, count: Int, client: String = "acme")
        throws
    {
        try connection.query(
            """
            INSERT INTO deliveries (received_at, client_id, endpoint, method, path, headers, content_type, body, \
            body_json, body_sha256, idempotency_key, cert_sha256)
            SELECT now() - $1::interval - n * interval '1 second', $3, 'orders', 'POST', '/hooks/orders', \
            '[["content-type","application/json"]]', 'application/json', convert_to('{"n":' || n || '}', 'UTF8'), \
            jsonb_build_object('n', n), 'sha' || n, gen_random_uuid()::text, 'cert'
            FROM generate_series(1, $2::int) AS n
            """, [.text(age), .int(count), .text(client)])
    }

    static func insertRejections(_ connection: PGConnection, age: String, count: Int) throws {
        try connection.query(
            """
            INSERT INTO rejections (at, stage, reason, detail)
            SELECT now() - $1::interval, 'handshake', 'unknown_ca', 'test' FROM generate_series(1, $2::int)
            """, [.text(age), .int(count)])
    }

    static func count(_ connection: PGConnection, _ sql: String) throws -> Int {
        try #require(try connection.query(sql).int(0, 0))
    }

    /// Three months of rows: 3 deliveries and 2 rejections 100 days old, 4 deliveries 50 days old,
    /// 2 deliveries and 1 rejection 5 days old.
    static func populated() throws -> TestDatabase {
        let database = try TestDatabase.create()
        let connection = try database.connect()
        defer { connection.close() }
        try insertDeliveries(connection, age: "100 days", count: 3)
        try insertDeliveries(connection, age: "50 days", count: 4)
        try insertDeliveries(connection, age: "5 days", count: 2)
        try insertRejections(connection, age: "100 days", count: 2)
        try insertRejections(connection, age: "5 days", count: 1)
        return database
    }

    /// Every column of every delivery as text, by id (a whole-table fingerprint).
    static func snapshot(_ connection: PGConnection) throws -> [String] {
        let result = try connection.query("SELECT d::text FROM deliveries d ORDER BY id")
        let rejections = try connection.query("SELECT r::text FROM rejections r ORDER BY id")
        return (0..<result.rowCount).map { result.string($0, 0) ?? "" }
            + (0..<rejections.rowCount).map { rejections.string($0, 0) ?? "" }
    }

    func run(_ arguments: [String], on database: TestDatabase) throws -> CommandResult {
        try TestSupportProcess.runWebhookd(["retention"] + arguments + ["--database-url", database.url])
    }

    @Test("--dry-run reports the counts and changes nothing")
    func dryRun() throws {
        let database = try Self.populated()
        let connection = try database.connect()
        defer { connection.close() }
        let before = try Self.snapshot(connection)
        let result = try run(["--keep", "90d", "--purge-bodies-after", "30d", "--dry-run"], on: database)
        #expect(result.status == 0, "\(result.stderr)")
        let pattern =
            /would delete 3 deliveries and 2 rejections received before \d{4}-\d\d-\d\dT[0-9:.]+Z; would empty the bodies of 4 deliveries received before \d{4}-\d\d-\d\dT[0-9:.]+Z\n/
        #expect(result.stdout.wholeMatch(of: pattern) != nil, "\(result.stdout)")
        #expect(try Self.snapshot(connection) == before)
    }

    @Test("a real run deletes the old rows, empties the middle window's bodies keeping the rest; a rerun is a no-op")
    func realRun() throws {
        let database = try Self.populated()
        let connection = try database.connect()
        defer { connection.close() }
        let middleBefore = try connection.query(
            """
            SELECT id, received_at, client_id, endpoint, headers, content_type, body_sha256, idempotency_key, \
            cert_sha256, processing_state FROM deliveries WHERE received_at < now() - interval '30 days' \
            AND received_at >= now() - interval '90 days' ORDER BY id
            """)
        let newBefore = try connection.query(
            "SELECT d::text FROM deliveries d WHERE received_at >= now() - interval '30 days' ORDER BY id")

        let result = try run(["--keep", "90d", "--purge-bodies-after", "30d"], on: database)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("deleted 3 deliveries and 2 rejections received before "), "\(result.stdout)")
        #expect(result.stdout.contains("; emptied the bodies of 4 deliveries received before "), "\(result.stdout)")

        #expect(try Self.count(connection, "SELECT count(*) FROM deliveries") == 6)
        #expect(try Self.count(connection, "SELECT count(*) FROM rejections") == 1)
        #expect(
            try Self.count(connection, "SELECT count(*) FROM deliveries WHERE received_at < now() - interval '90 days'")
                == 0)
        #expect(
            try Self.count(connection, "SELECT count(*) FROM rejections WHERE at < now() - interval '90 days'") == 0)
        // The middle window: bodies emptied and stamped, every other column as it was.
        let middleAfter = try connection.query(
            """
            SELECT id, received_at, client_id, endpoint, headers, content_type, body_sha256, idempotency_key, \
            cert_sha256, processing_state, octet_length(body), body_json IS NULL, body_purged_at IS NOT NULL, \
            body_purged_at > now() - interval '1 minute'
            FROM deliveries WHERE body_purged_at IS NOT NULL ORDER BY id
            """)
        #expect(middleAfter.rowCount == 4)
        #expect(middleBefore.rowCount == 4)
        for row in 0..<middleAfter.rowCount {
            for column in 0..<10 {
                #expect(middleAfter.string(row, column) == middleBefore.string(row, column))
            }
            #expect(middleAfter.int(row, 10) == 0)
            #expect(middleAfter.bool(row, 11) == true)
            #expect(middleAfter.bool(row, 13) == true)
        }
        // The newest rows: untouched, body_purged_at still NULL.
        let newAfter = try connection.query(
            "SELECT d::text FROM deliveries d WHERE received_at >= now() - interval '30 days' ORDER BY id")
        #expect(newAfter.rowCount == 2)
        for row in 0..<newAfter.rowCount { #expect(newAfter.string(row, 0) == newBefore.string(row, 0)) }
        #expect(try Self.count(connection, "SELECT count(*) FROM deliveries WHERE body_purged_at IS NULL") == 2)

        let before = try Self.snapshot(connection)
        let again = try run(["--keep", "90d", "--purge-bodies-after", "30d"], on: database)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.hasPrefix("deleted 0 deliveries and 0 rejections received before "), "\(again.stdout)")
        #expect(again.stdout.contains("; emptied the bodies of 0 deliveries received before "), "\(again.stdout)")
        #expect(try Self.snapshot(connection) == before, "a second run changes nothing")
    }

    @Test("more rows than one batch: every batch but the last is full, and the totals are exact")
    func batching() throws {
        let database = try TestDatabase.create()
        let connection = try database.connect()
        defer { connection.close() }
        try Self.insertDeliveries(connection, age: "100 days", count: 25)
        try Self.insertRejections(connection, age: "100 days", count: 20)
        try Self.insertDeliveries(connection, age: "50 days", count: 31)
        try Self.insertDeliveries(connection, age: "1 day", count: 3)

        let batches = Batches()
        var retention = Retention(connection: connection, batchSize: 10)
        retention.onBatch = { kind, rows, _ in batches.append(kind, rows) }
        let policy = try RetentionPolicy(keep: "90d", purgeBodiesAfter: "30d")
        let report = try retention.run(policy, dryRun: false)
        #expect(report.deletedDeliveries == 25)
        #expect(report.deletedRejections == 20)
        #expect(report.purgedBodies == 31)
        #expect(batches.rows("delete deliveries") == [10, 10, 5])
        #expect(batches.rows("delete rejections") == [10, 10, 0])
        #expect(batches.rows("empty bodies") == [10, 10, 10, 1])
        #expect(try Self.count(connection, "SELECT count(*) FROM deliveries") == 34)
        #expect(try Self.count(connection, "SELECT count(*) FROM deliveries WHERE body_purged_at IS NOT NULL") == 31)

        let second = try Retention(connection: connection, batchSize: 10).run(policy, dryRun: false)
        #expect(second.deletedDeliveries == 0 && second.deletedRejections == 0 && second.purgedBodies == 0)

        // A later run starts after the bodies already emptied and empties exactly the newly due ones.
        try Self.insertDeliveries(connection, age: "40 days", count: 12)
        let third = try Retention(connection: connection, batchSize: 10).run(policy, dryRun: false)
        #expect(third.purgedBodies == 12)
        #expect(try Self.count(connection, "SELECT count(*) FROM deliveries WHERE body_purged_at IS NOT NULL") == 43)
    }

    @Test("a concurrent writer keeps inserting while retention deletes and purges in batches")
    func concurrentWriter() throws {
        let database = try TestDatabase.create()
        let setup = try database.connect()
        defer { setup.close() }
        try Self.insertDeliveries(setup, age: "100 days", count: 20_000)
        try Self.insertDeliveries(setup, age: "50 days", count: 10_000)

        let done = Batches()
        let writerFailures = Batches()
        let writer = Thread {
            do {
                let connection = try database.connect()
                defer { connection.close() }
                var inserted = 0
                while done.rows("finished").isEmpty || inserted < 20 {
                    try Self.insertDeliveries(connection, age: "0 seconds", count: 1, client: "writer")
                    inserted += 1
                }
                done.append("inserted", inserted)
            } catch {
                writerFailures.append("\(error)", 1)
            }
        }
        writer.start()
        let connection = try database.connect()
        defer { connection.close() }
        let report = try Retention(connection: connection, batchSize: 500).run(
            try RetentionPolicy(keep: "90d", purgeBodiesAfter: "30d"), dryRun: false)
        done.append("finished", 0)
        let deadline = Date().addingTimeInterval(30)
        while done.rows("inserted").isEmpty && writerFailures.isEmpty && Date() < deadline { usleep(10_000) }
        #expect(writerFailures.isEmpty, "\(writerFailures.kinds)")
        let inserted = try #require(done.rows("inserted").first)
        #expect(report.deletedDeliveries == 20_000)
        #expect(report.purgedBodies == 10_000)
        #expect(try Self.count(setup, "SELECT count(*) FROM deliveries WHERE client_id = 'writer'") == inserted)
        #expect(
            try Self.count(
                setup, "SELECT count(*) FROM deliveries WHERE client_id = 'writer' AND body_purged_at IS NULL")
                == inserted)
    }

    // MARK: - Command lines

    @Test("flag errors exit 64 with one line naming the flag")
    func flagErrors() throws {
        let database = try TestDatabase.create()
        let cases: [([String], String)] = [
            (["retention", "--keep", "30d", "--purge-bodies-after", "30d"], "--purge-bodies-after"),
            (["retention", "--keep", "7d", "--purge-bodies-after", "8d"], "--purge-bodies-after"),
            (["retention", "--keep", "seven days"], "--keep"),
            (
                ["serve", "--retention-keep", "1d", "--retention-purge-bodies-after", "1d"],
                "--retention-purge-bodies-after"
            ),
            (["serve", "--retention-keep", "1y"], "--retention-keep"),
            (["serve", "--retention-purge-bodies-after", "1d"], "--retention-keep"),
        ]
        for (arguments, flag) in cases {
            let result = try TestSupportProcess.runWebhookd(arguments + ["--database-url", database.url])
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(flag), "\(arguments): \(result.stderr)")
        }
    }
}

/// Rows per batch by kind, shared between the retention callback, the writer thread and the test.
final class Batches: Sendable {
    private let entries = Mutex<[(kind: String, rows: Int)]>([])

    func append(_ kind: String, _ rows: Int) { entries.withLock { $0.append((kind, rows)) } }
    func rows(_ kind: String) -> [Int] { entries.withLock { $0.filter { $0.kind == kind }.map(\.rows) } }
    var isEmpty: Bool { entries.withLock { $0.isEmpty } }
    var kinds: [String] { entries.withLock { $0.map(\.kind) } }
}
