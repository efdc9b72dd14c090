package import Foundation
package import Postgres

// MARK: - RetentionPolicy

/// What retention keeps (issue 12): deliveries and rejections younger than `keepSeconds`, and the bodies of
/// deliveries younger than `purgeBodiesAfterSeconds` (when set, always shorter than `keepSeconds`).
package struct RetentionPolicy: Sendable, Equatable {
    /// Rows received longer ago than this are deleted.
    package var keepSeconds: Int
    /// Deliveries received longer ago than this (and kept) have their body emptied; nil: bodies are kept.
    package var purgeBodiesAfterSeconds: Int?

    /// Creates a policy from already-validated durations.
    package init(keepSeconds: Int, purgeBodiesAfterSeconds: Int? = nil) {
        self.keepSeconds = keepSeconds
        self.purgeBodiesAfterSeconds = purgeBodiesAfterSeconds
    }

    /// Parses the two flags' values with the `--since` duration parser (`30s`, `15m`, `2h`, `7d`).
    /// - Parameters: `keepFlag`/`purgeFlag` are the flag names used in messages (`--keep`, `--retention-keep`).
    /// - Throws: `RetentionError` (a usage problem) naming the flag: not a duration, zero, or purge ≥ keep.
    package init(
        keep: String, purgeBodiesAfter: String?, keepFlag: String = "--keep",
        purgeFlag: String = "--purge-bodies-after"
    ) throws(RetentionError) {
        let keepSeconds = try Self.seconds(keep, flag: keepFlag)
        var purgeSeconds: Int?
        if let purgeBodiesAfter {
            let seconds = try Self.seconds(purgeBodiesAfter, flag: purgeFlag)
            guard seconds < keepSeconds else {
                throw RetentionError(
                    "\(purgeFlag) \(purgeBodiesAfter) must be shorter than \(keepFlag) \(keep)")
            }
            purgeSeconds = seconds
        }
        self.init(keepSeconds: keepSeconds, purgeBodiesAfterSeconds: purgeSeconds)
    }

    private static func seconds(_ text: String, flag: String) throws(RetentionError) -> Int {
        guard case .last(let seconds)? = try? DeliverySince(parsing: text), seconds > 0 else {
            throw RetentionError("\(flag) '\(text)' is not a duration greater than zero (30s, 15m, 2h, 7d)")
        }
        return seconds
    }

    /// The cutoffs for a run at `now`: rows received strictly before `delete` are deleted, and kept
    /// deliveries received strictly before `purge` have their body emptied.
    package func cutoffs(now: Date) -> RetentionCutoffs {
        RetentionCutoffs(
            delete: now.addingTimeInterval(-Double(keepSeconds)),
            purge: purgeBodiesAfterSeconds.map { now.addingTimeInterval(-Double($0)) })
    }
}

/// The two instants of one retention run.
package struct RetentionCutoffs: Sendable, Equatable {
    /// Deliveries and rejections received before this are deleted.
    package var delete: Date
    /// Deliveries received before this have their body emptied; nil when bodies are kept.
    package var purge: Date?

    /// `2026-09-03T12:00:00.000Z`: what the report prints and what is sent to PostgreSQL.
    package static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}

// MARK: - RetentionReport

/// What one run removed, or (dry run) would remove.
package struct RetentionReport: Sendable, Equatable {
    package var dryRun: Bool
    package var cutoffs: RetentionCutoffs
    package var deletedDeliveries: Int
    package var deletedRejections: Int
    /// Bodies emptied; 0 when the policy keeps bodies.
    package var purgedBodies: Int

    package init(
        dryRun: Bool, cutoffs: RetentionCutoffs, deletedDeliveries: Int, deletedRejections: Int, purgedBodies: Int
    ) {
        self.dryRun = dryRun
        self.cutoffs = cutoffs
        self.deletedDeliveries = deletedDeliveries
        self.deletedRejections = deletedRejections
        self.purgedBodies = purgedBodies
    }

    /// One line: `deleted 3 deliveries and 2 rejections received before …; emptied the bodies of 4 …`.
    package var line: String {
        let (delete, empty) = dryRun ? ("would delete", "would empty") : ("deleted", "emptied")
        var text =
            "\(delete) \(deletedDeliveries) \(Self.plural(deletedDeliveries, "delivery", "deliveries")) and "
            + "\(deletedRejections) \(Self.plural(deletedRejections, "rejection", "rejections")) received before "
            + RetentionCutoffs.format(cutoffs.delete)
        if let purge = cutoffs.purge {
            text +=
                "; \(empty) the bodies of \(purgedBodies) \(Self.plural(purgedBodies, "delivery", "deliveries")) "
                + "received before \(RetentionCutoffs.format(purge))"
        }
        return text
    }

    private static func plural(_ count: Int, _ one: String, _ many: String) -> String { count == 1 ? one : many }
}

// MARK: - Retention

/// The one retention implementation (`webhookd retention` and `serve --retention-keep`). Every statement
/// touches at most `batchSize` rows and is its own transaction, so no lock is held for long: the receiver's
/// inserts never wait on it (rows being deleted are old; new rows are never in a batch).
package struct Retention {
    /// Rows per statement.
    package static let defaultBatchSize = 5_000

    package let connection: PGConnection
    package let batchSize: Int
    /// Rows per body-emptying statement: an UPDATE writes a new version of each row (heap tuple and index
    /// entries), so its batches are smaller than a DELETE's; 1,000 took 21 ms (median) and 120 ms at most on a
    /// 1M-row table with a concurrent writer (README "Retention").
    package let purgeBatchSize: Int
    /// Called after each batch with its kind, rows affected and duration (measurements, logs).
    package var onBatch: (@Sendable (String, Int, Duration) -> Void)?

    /// - Parameters: `purgeBatchSize` defaults to the smaller of `batchSize` and 1,000.
    package init(connection: PGConnection, batchSize: Int = Retention.defaultBatchSize, purgeBatchSize: Int? = nil) {
        precondition(batchSize > 0 && (purgeBatchSize ?? 1) > 0, "batch sizes must be positive")
        self.connection = connection
        self.batchSize = batchSize
        self.purgeBatchSize = purgeBatchSize ?? min(batchSize, 1_000)
    }

    /// Runs `policy` against the database's clock (`now()` read once). Deletes first, then empties the
    /// bodies of the kept deliveries older than the purge cutoff that are not emptied yet.
    /// - Throws: `RetentionError` carrying the database failure.
    package func run(_ policy: RetentionPolicy, dryRun: Bool) throws(RetentionError) -> RetentionReport {
        let now = try databaseNow()
        let cutoffs = policy.cutoffs(now: now)
        let deleteAt = PGValue.text(RetentionCutoffs.format(cutoffs.delete))
        let purgeAt = cutoffs.purge.map { PGValue.text(RetentionCutoffs.format($0)) }
        var report = RetentionReport(
            dryRun: dryRun, cutoffs: cutoffs, deletedDeliveries: 0, deletedRejections: 0, purgedBodies: 0)
        if dryRun {
            report.deletedDeliveries = try count(
                "SELECT count(*) FROM deliveries WHERE received_at < $1::timestamptz", [deleteAt])
            report.deletedRejections = try count(
                "SELECT count(*) FROM rejections WHERE at < $1::timestamptz", [deleteAt])
            if let purgeAt {
                report.purgedBodies = try count(
                    """
                    SELECT count(*) FROM deliveries WHERE received_at >= $1::timestamptz \
                    AND received_at < $2::timestamptz AND body_purged_at IS NULL
                    """, [deleteAt, purgeAt])
            }
            return report
        }
        report.deletedDeliveries = try batches("delete deliveries") { () throws(RetentionError) in
            try count(
                """
                WITH gone AS (DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries \
                WHERE received_at < $1::timestamptz ORDER BY received_at LIMIT $2) RETURNING 1) \
                SELECT count(*) FROM gone
                """, [deleteAt, .int(batchSize)])
        }
        report.deletedRejections = try batches("delete rejections") { () throws(RetentionError) in
            try count(
                """
                WITH gone AS (DELETE FROM rejections WHERE id IN (SELECT id FROM rejections \
                WHERE at < $1::timestamptz ORDER BY at LIMIT $2) RETURNING 1) \
                SELECT count(*) FROM gone
                """, [deleteAt, .int(batchSize)])
        }
        if let purgeAt, let oldest = try oldestUnpurged(after: deleteAt, before: purgeAt) {
            // Each batch starts where the previous one ended (`from`), so it never rescans the rows emptied
            // before it (without this every batch walks the whole emptied prefix of the received_at index: 27 ms
            // for the first 1,000 rows of a 1M-row table, 475 ms by the 400th). Ties at `from` are re-read and
            // skipped by the NULL test. The bodies earlier runs emptied are walked once, by `oldestUnpurged`.
            var from = PGValue.text(oldest)
            report.purgedBodies = try batches("empty bodies", size: purgeBatchSize) { () throws(RetentionError) in
                let result = try query(
                    """
                    WITH emptied AS (UPDATE deliveries SET body = '\\x'::bytea, body_json = NULL, \
                    body_purged_at = now() WHERE id IN (SELECT id FROM deliveries \
                    WHERE received_at >= $3::timestamptz AND received_at < $1::timestamptz \
                    AND body_purged_at IS NULL ORDER BY received_at LIMIT $2) AND body_purged_at IS NULL \
                    RETURNING received_at) \
                    SELECT count(*), \(Self.utc("max(received_at)")) FROM emptied
                    """, [purgeAt, .int(purgeBatchSize), from])
                if let last = result.string(0, 1) { from = .text(last) }
                return result.int(0, 0) ?? 0
            }
        }
        return report
    }

    /// Repeats `batch` until it affects fewer rows than a batch; returns the total.
    private func batches(_ kind: String, size: Int? = nil, _ batch: () throws(RetentionError) -> Int)
        throws(RetentionError) -> Int
    {
        var total = 0
        while true {
            let started = ContinuousClock.now
            let affected = try batch()
            onBatch?(kind, affected, ContinuousClock.now - started)
            total += affected
            if affected < (size ?? batchSize) { return total }
        }
    }

    /// Where a run's body emptying starts: the oldest kept delivery before `cutoff` whose body is as received.
    /// It walks past the bodies earlier runs emptied (0.5 s for 500,000 of them) in a plain read that locks
    /// no row, so no UPDATE batch holds row locks meanwhile; starting at `deleted` skips the index entries of
    /// the rows this run just deleted.
    private func oldestUnpurged(after deleted: PGValue, before cutoff: PGValue) throws(RetentionError) -> String? {
        try query(
            """
            SELECT \(Self.utc("received_at")) FROM deliveries WHERE received_at >= $1::timestamptz \
            AND received_at < $2::timestamptz AND body_purged_at IS NULL ORDER BY received_at LIMIT 1
            """, [deleted, cutoff]
        ).string(0, 0)
    }

    /// A timestamp as exact text (microseconds, UTC), whatever the session's TimeZone and DateStyle.
    private static func utc(_ expression: String) -> String {
        "to_char(\(expression) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    }

    private func databaseNow() throws(RetentionError) -> Date {
        let result = try query("SELECT extract(epoch FROM now())::float8::text", [])
        guard let text = result.string(0, 0), let seconds = Double(text) else {
            throw RetentionError("the database did not report its clock")
        }
        return Date(timeIntervalSince1970: seconds)
    }

    private func count(_ sql: String, _ parameters: [PGValue]) throws(RetentionError) -> Int {
        try query(sql, parameters).int(0, 0) ?? 0
    }

    private func query(_ sql: String, _ parameters: [PGValue]) throws(RetentionError) -> PGResult {
        do {
            return try connection.query(sql, parameters)
        } catch {
            throw RetentionError(database: error)
        }
    }
}

// MARK: - RetentionError

/// A retention flag that does not validate (usage, exit 64) or a database failure.
package struct RetentionError: Error, Sendable, CustomStringConvertible {
    /// One line for a person.
    package var message: String
    /// The database error behind a failure; nil for a flag problem.
    package var underlying: PostgresError?

    package init(_ message: String) { self.message = message }

    init(database error: PostgresError) {
        self.message =
            error.sqlState == "42703" || error.sqlState == "42P01" ? RegistryError.notMigrated : error.message
        self.underlying = error
    }

    /// True for a flag problem or an unreachable database: SPEC's exit 64.
    package var isUsageProblem: Bool { underlying == nil || underlying?.isConnectionProblem == true }

    package var description: String { message }
}
