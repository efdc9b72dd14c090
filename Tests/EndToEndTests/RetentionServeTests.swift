import Foundation
import Postgres
import TestSupport
import Testing

/// `serve --retention-keep`: the server runs retention at start, off the request path, and logs one line.
@Suite("Retention in serve")
struct RetentionServeTests {
    @Test("serve --retention-keep 90d --retention-purge-bodies-after 30d removes old rows and logs what it did")
    func serveRunsRetention() throws {
        let database = try TestDatabase.create()
        let connection = try database.connect()
        defer { connection.close() }
        try connection.query(
            """
            INSERT INTO deliveries (received_at, client_id, endpoint, method, path, body, body_json, body_sha256)
            SELECT now() - n * interval '40 days', 'acme', 'orders', 'POST', '/hooks/orders', '\\x7b7d', '{}', 'x'
            FROM generate_series(1, 3) AS n
            """)
        let harness = try ReceiverHarness(
            extraArguments: ["--retention-keep", "90d", "--retention-purge-bodies-after", "30d"], database: database)
        let line = try harness.waitForLog("retention: deleted 1 delivery and 0 rejections received before")
        #expect(line.contains("; emptied the bodies of 2 deliveries received before "), "\(line)")
        let remaining = try connection.query(
            "SELECT count(*), count(*) FILTER (WHERE body_purged_at IS NOT NULL AND body = '' AND body_json IS NULL) FROM deliveries"
        )
        #expect(remaining.int(0, 0) == 2)
        #expect(remaining.int(0, 1) == 2)
    }
}
