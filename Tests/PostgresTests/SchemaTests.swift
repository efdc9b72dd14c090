import Postgres
import TestSupport
import Testing

/// What `sql/` promises beyond the columns: the header functions, the NOTIFY triggers and the
/// idempotency index, checked with plain SQL on a freshly migrated database.
@Suite("Schema")
struct SchemaTests {
    @Test("webhookd_header returns the first value by case-insensitive name, and NULL when absent")
    func headerFunction() throws {
        let connection = try TestDatabase.create().connect()
        let headers = """
            [["Content-Type", "application/json"], ["X-Dup", "first"], ["Webhook-Id", "abc"], ["x-dup", "second"],
             ["X-Empty", ""]]
            """
        let result = try connection.query(
            """
            SELECT webhookd_header($1::jsonb, 'content-type'), webhookd_header($1::jsonb, 'x-DUP'),
                   webhookd_header($1::jsonb, 'WEBHOOK-ID'), webhookd_header($1::jsonb, 'missing'),
                   webhookd_header($1::jsonb, 'x-empty'), webhookd_header_values($1::jsonb, 'X-Dup'),
                   webhookd_header_values($1::jsonb, 'missing'), webhookd_header('[]'::jsonb, 'x')
            """, [.text(headers)])
        #expect(result.string(0, 0) == "application/json")
        #expect(result.string(0, 1) == "first")
        #expect(result.string(0, 2) == "abc")
        #expect(result.isNull(0, 3))
        #expect(result.string(0, 4) == "")
        #expect(result.textArray(0, 5) == ["first", "second"])
        #expect(result.textArray(0, 6) == [])
        #expect(result.isNull(0, 7))
    }

    @Test("the clients trigger notifies the client id on add/disable/enable/grant/pin/remove, not on bookkeeping")
    func clientsTriggerNotifiesAuthorizationChangesOnly() throws {
        let database = try TestDatabase.create()
        let listener = try database.connect()
        let writer = try database.connect()
        try listener.listen("webhookd_clients")
        let id = "acme'; DROP TABLE clients; --"
        let pin = String(repeating: "ab", count: 32)

        try writer.query("INSERT INTO clients (client_id, endpoints) VALUES ($1, '{orders}')", [.text(id)])
        try writer.query("UPDATE clients SET last_seen_at = now() WHERE client_id = $1", [.text(id)])
        try writer.query("UPDATE clients SET last_cert_not_after = now() WHERE client_id = $1", [.text(id)])
        try writer.query("UPDATE clients SET description = 'just words' WHERE client_id = $1", [.text(id)])
        try writer.query("UPDATE clients SET enabled = false WHERE client_id = $1", [.text(id)])
        try writer.query("UPDATE clients SET enabled = false WHERE client_id = $1", [.text(id)])  // no change
        try writer.query("UPDATE clients SET enabled = true WHERE client_id = $1", [.text(id)])
        try writer.query("UPDATE clients SET endpoints = endpoints || '{billing}' WHERE client_id = $1", [.text(id)])
        try writer.query("UPDATE clients SET pins_sha256 = ARRAY[$2] WHERE client_id = $1", [.text(id), .text(pin)])
        try writer.query("DELETE FROM clients WHERE client_id = $1", [.text(id)])
        try writer.query("SELECT pg_notify('webhookd_clients', 'marker')")

        let received = try notifications(on: listener, before: "marker")
        // add, disable, enable, grant, pin, remove: six changes that affect authorization.
        #expect(received.map(\.payload) == Array(repeating: id, count: 6))
        #expect(received.allSatisfy { $0.channel == "webhookd_clients" })
    }

    @Test("updated_at follows configuration changes but not last_seen_at")
    func updatedAtFollowsConfigurationOnly() throws {
        let connection = try TestDatabase.create().connect()
        try connection.query(
            "INSERT INTO clients (client_id, updated_at) VALUES ('acme', '2000-01-01T00:00:00Z')")
        try connection.query("UPDATE clients SET last_seen_at = now() WHERE client_id = 'acme'")
        #expect(try connection.query("SELECT extract(year FROM updated_at) FROM clients").int(0, 0) == 2000)
        try connection.query("UPDATE clients SET enabled = false WHERE client_id = 'acme'")
        #expect(try connection.query("SELECT updated_at > '2001-01-01' FROM clients").bool(0, 0) == true)
        // Columns added after 001 (limits, signature settings) are configuration too.
        for change in [
            "max_connections = 3", "rate_per_second = 2.5", "burst = 4",
            "signature_scheme = 'github', signature_mode = 'required'",
        ] {
            try connection.query("UPDATE clients SET updated_at = '2000-01-01T00:00:00Z'")
            try connection.query("UPDATE clients SET \(change) WHERE client_id = 'acme'")
            #expect(
                try connection.query("SELECT updated_at > '2001-01-01' FROM clients").bool(0, 0) == true, "\(change)")
        }
    }

    @Test("the clients table refuses malformed endpoints and fingerprints even from raw SQL")
    func clientsTableChecks() throws {
        let connection = try TestDatabase.create().connect()
        for endpoints in [["a/b"], [String(repeating: "e", count: 65)], [""], ["*x"]] {
            let error = #expect(throws: PostgresError.self) {
                try connection.query(
                    "INSERT INTO clients (client_id, endpoints) VALUES ('c', $1::text[])", [.textArray(endpoints)])
            }
            #expect(error?.sqlState == "23514", "endpoints \(endpoints)")
        }
        let upper = String(repeating: "AB", count: 32)
        let error = #expect(throws: PostgresError.self) {
            try connection.query(
                "INSERT INTO clients (client_id, pins_sha256) VALUES ('c', $1::text[])", [.textArray([upper])])
        }
        #expect(error?.sqlState == "23514")
        try connection.query(
            "INSERT INTO clients (client_id, endpoints) VALUES ('c', $1::text[])", [.textArray(["*", "a.b_c-1"])])
    }

    @Test("each inserted delivery notifies webhookd_deliveries with exactly its id")
    func deliveriesTriggerNotifiesTheId() throws {
        let database = try TestDatabase.create()
        let listener = try database.connect()
        let writer = try database.connect()
        try listener.listen("webhookd_deliveries")

        let first = try insertDelivery(writer, client: "acme", key: "k1")
        let second = try insertDelivery(writer, client: "acme", key: nil)
        // A rolled-back insert notifies nobody.
        try writer.query("BEGIN")
        try insertDelivery(writer, client: "acme", key: "rolled-back")
        try writer.query("ROLLBACK")
        // One statement of several rows (the trigger runs once per statement) notifies each of them, and
        // not the row its ON CONFLICT skipped.
        let batch = try writer.query(
            """
            INSERT INTO deliveries (client_id, endpoint, method, path, body, body_sha256, idempotency_key)
            SELECT 'acme', 'orders', 'POST', '/webhooks/orders', '\\x7b7d', 'x', key
            FROM unnest(ARRAY['b1', 'k1', 'b2', NULL]) WITH ORDINALITY AS k (key, n) ORDER BY n
            ON CONFLICT (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            RETURNING id::text
            """)
        let batchIDs = (0..<batch.rowCount).compactMap { batch.string($0, 0) }
        #expect(batchIDs.count == 3)
        // A statement that inserts nothing notifies nothing.
        try writer.query(
            """
            INSERT INTO deliveries (client_id, endpoint, method, path, body, body_sha256, idempotency_key)
            VALUES ('acme', 'orders', 'POST', '/', '', 'x', 'k1')
            ON CONFLICT (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            """)
        try writer.query("SELECT pg_notify('webhookd_deliveries', 'marker')")

        let received = try notifications(on: listener, before: "marker")
        #expect(received.map(\.payload) == [first, second] + batchIDs)
        // The payload is the uuid as text and nothing else.
        #expect(first.count == 36 && first.split(separator: "-").count == 5)
    }

    @Test("body, body_json and headers are TOAST-compressed with lz4 (this server is built with it)")
    func wideColumnsUseLZ4() throws {
        let connection = try TestDatabase.create().connect()
        let columns = try connection.query(
            """
            SELECT attname, attcompression FROM pg_attribute
            WHERE attrelid = 'deliveries'::regclass AND attname IN ('body', 'body_json', 'headers') ORDER BY attname
            """)
        #expect((0..<columns.rowCount).map { columns.string($0, 0) ?? "" } == ["body", "body_json", "headers"])
        #expect((0..<columns.rowCount).allSatisfy { columns.string($0, 1) == "l" })
        // A body large enough to be compressed is, with lz4, and reads back exactly.
        let body = Array(String(repeating: #"{"k": "value"}, "#, count: 400).utf8)
        let id = try connection.query(
            """
            INSERT INTO deliveries (client_id, endpoint, method, path, body, body_sha256)
            VALUES ('acme', 'orders', 'POST', '/', $1, 'x') RETURNING id::text
            """, [.bytes(body)]
        ).string(0, 0)
        let stored = try connection.query(
            "SELECT pg_column_compression(body), body FROM deliveries WHERE id = $1::uuid", [.optional(id)])
        #expect(stored.string(0, 0) == "lz4")
        #expect(stored.bytes(0, 1) == body)
    }

    @Test("a delivery stays in its heap row unless the row would not fit in a page (010: STORAGE MAIN)")
    func deliveriesStayInTheirRow() throws {
        let connection = try TestDatabase.create().connect()
        // About 3.2 KiB of hardly compressible JSON (body and body_json) and two 64-digit hashes: over the
        // 2 KiB TOAST threshold even compressed, which with EXTENDED storage moved values out of line.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = (0..<65_536).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        let hex = noise.prefix(750).map { String($0, radix: 16) }.joined()
        let body = Array(#"{"type":"invoice.paid","id":"\#(hex)"}"#.utf8)
        let big = noise
        var ids: [String] = []
        for (payload, json) in [(body, true), (big, false)] {
            let id = try connection.query(
                """
                INSERT INTO deliveries (client_id, endpoint, method, path, body, body_json, body_sha256, cert_sha256)
                VALUES ('acme', 'orders', 'POST', '/webhooks/orders', $1,
                        CASE WHEN $2 THEN convert_from($1, 'UTF8')::jsonb END,
                        encode(sha256($1), 'hex'), repeat('ab', 32))
                RETURNING id::text
                """, [.bytes(payload), .text(json ? "true" : "false")]
            ).string(0, 0)
            ids.append(try #require(id))
            let toastBytes = try connection.query(
                """
                SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'deliveries'::regclass
                """
            ).int(0, 0)
            // The first row leaves TOAST empty; the 64 KiB one does not fit in a page and goes there.
            #expect(json ? toastBytes == 0 : (toastBytes ?? 0) > 0)
        }
        let stored = try connection.query(
            "SELECT body, body_json IS NOT NULL FROM deliveries WHERE id = ANY($1::uuid[]) ORDER BY length(body)",
            [.text("{\(ids.joined(separator: ","))}")])
        #expect(stored.rowCount == 2)
        #expect(stored.bytes(0, 0) == body && stored.bytes(1, 0) == big)
        #expect(stored.bool(0, 1) == true)
    }

    @Test("deliveries keeps only the indexes the product's queries and SPEC's uniqueness need")
    func deliveriesIndexes() throws {
        let connection = try TestDatabase.create().connect()
        let indexes = try connection.query(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'deliveries' ORDER BY indexname")
        #expect(
            (0..<indexes.rowCount).compactMap { indexes.string($0, 0) } == [
                "deliveries_client_idempotency_key", "deliveries_client_received_at", "deliveries_pending",
                "deliveries_pkey", "deliveries_received_at",
            ])
    }

    @Test("the idempotency index refuses a second (client, key) but allows NULL keys and other clients")
    func idempotencyIndex() throws {
        let connection = try TestDatabase.create().connect()
        try insertDelivery(connection, client: "acme", key: "delivery-1")
        let duplicate = #expect(throws: PostgresError.self) {
            try insertDelivery(connection, client: "acme", key: "delivery-1", endpoint: "other-endpoint")
        }
        #expect(duplicate?.sqlState == "23505")
        #expect(duplicate?.isConnectionProblem == false)

        try insertDelivery(connection, client: "acme", key: nil)
        try insertDelivery(connection, client: "acme", key: nil)
        try insertDelivery(connection, client: "globex", key: "delivery-1")
        try insertDelivery(connection, client: "acme", key: "Delivery-1")  // keys are case-sensitive
        let count = try connection.query("SELECT count(*) FROM deliveries").int(0, 0)
        #expect(count == 5)
    }
}

/// Inserts a minimal delivery and returns its id.
@discardableResult
private func insertDelivery(
    _ connection: PGConnection, client: String, key: String?, endpoint: String = "orders"
) throws -> String {
    let result = try connection.query(
        """
        INSERT INTO deliveries (client_id, endpoint, method, path, body, body_sha256, idempotency_key)
        VALUES ($1, $2, 'POST', '/webhooks/' || $2, $3, encode(sha256($3), 'hex'), $4)
        RETURNING id
        """, [.text(client), .text(endpoint), .bytes(Array("{}".utf8)), .optional(key)])
    return try #require(result.string(0, 0))
}
