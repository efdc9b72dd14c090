import Foundation
import HTTP1
import Logging
import Posix
import Postgres
import TestSupport
import Testing

@testable import Receiver

/// `DeliveryWriter` against a real database: the one prepared statement with array parameters, its
/// duplicate answers, batch sizes, re-preparation after a reconnect and the NOTIFY per delivery.
@Suite("DeliveryWriter")
struct DeliveryWriterTests {
    /// A started writer on a fresh migrated database, and a way to write batches through it.
    final class Harness {
        let database: TestDatabase
        let writer: DeliveryWriter
        private let signal: WakeupSignal
        private let replies: HandoffQueue<DeliveryCompletion>
        private var nextConnectionID: UInt64 = 1

        init(maxBatch: Int = 256) throws {
            database = try TestDatabase.create()
            let handle = try DatabaseLocation.url(database.url).open()
            writer = try DeliveryWriter(
                database: handle, threads: 1, maxBatch: maxBatch, statistics: ReceiverStatistics(),
                logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
            signal = try WakeupSignal()
            replies = HandoffQueue(signal: signal)
        }

        deinit { writer.stop() }

        /// Queues every delivery before the single writer thread starts (so the first batch takes them
        /// all, up to `maxBatch`), or while it runs; returns the outcomes in submission order.
        func write(_ deliveries: [Delivery], startingWriter: Bool = false) throws -> [DeliveryOutcome] {
            let tickets = submit(deliveries)
            if startingWriter { try writer.start() }
            return try outcomes(of: tickets)
        }

        /// Queues `deliveries`; returns their ticket numbers for `outcomes(of:)`.
        func submit(_ deliveries: [Delivery]) -> [UInt64] {
            deliveries.map { delivery in
                defer { nextConnectionID += 1 }
                writer.submit(DeliveryTicket(delivery: delivery, connectionID: nextConnectionID, replies: replies))
                return nextConnectionID
            }
        }

        /// Waits (up to 60 s) for the outcomes of `tickets`, in their order.
        func outcomes(of tickets: [UInt64]) throws -> [DeliveryOutcome] {
            var outcomes: [UInt64: DeliveryOutcome] = [:]
            let deadline = ContinuousClock.now + .seconds(60)
            while outcomes.count < tickets.count && ContinuousClock.now < deadline {
                _ = signal.wait(timeout: .milliseconds(200))
                for completion in replies.drain() { outcomes[completion.connectionID] = completion.outcome }
            }
            return try tickets.map { try #require(outcomes[$0], "no outcome within 60 s") }
        }
    }

    /// A delivery with every column filled; `key` is its idempotency key.
    static func delivery(
        client: String = "acme", key: String?, body: [UInt8] = Array(#"{"type":"invoice.paid"}"#.utf8),
        isJSON: Bool = true
    ) -> Delivery {
        Delivery(
            id: UUIDv7.make(), clientID: client, endpoint: "orders", method: "POST", path: "/webhooks/orders",
            query: nil, headersJSON: #"[["Content-Type","application/json"]]"#, contentType: "application/json",
            body: body, bodyIsJSON: isJSON, bodySHA256: String(repeating: "0", count: 64), idempotencyKey: key,
            certSubject: "CN=\(client)", certIssuer: "CN=Partner CA", certSerial: "1A2B", certSHA256: "ab",
            certNotAfter: 1_900_000_000, remoteAddress: "203.0.113.5", tlsVersion: "TLSv1.3",
            tlsCipher: "TLS_AES_128_GCM_SHA256")
    }

    // MARK: - Values

    @Test("hostile values in every column round-trip byte for byte through the array parameters")
    func hostileValuesRoundTrip() throws {
        let harness = try Harness()
        let hostile = [
            "it's", "\"double\"", "back\\slash\\\\", "{braces}", "{\"a\",\"b\"}", "a,b", "NULL", "null", "", " ",
            "'; DROP TABLE deliveries; --", "$1::text", "emoji \u{1F4A9}\u{1F1EB}\u{1F1F7} é ß 中文",
            "line\nbreak\r\n\ttab", "\u{7F}\u{1}", "}{\\\"", String(repeating: "x\"\\,{}", count: 2_000),
        ]
        let everyByte = (0...255).map { UInt8($0) }
        var deliveries: [Delivery] = []
        for (index, value) in hostile.enumerated() {
            var delivery = Self.delivery(client: "c" + value, key: value.isEmpty ? nil : value)
            delivery.endpoint = value
            delivery.method = value
            delivery.path = "/webhooks/" + value
            delivery.query = index % 3 == 0 ? nil : value
            delivery.contentType = index % 4 == 0 ? nil : value
            delivery.headersJSON = jsonPairs([(value, value), ("X-Index", String(index))])
            delivery.body = index % 2 == 0 ? Array(value.utf8) + everyByte : []
            delivery.bodyIsJSON = false
            delivery.bodySHA256 = value
            delivery.certSubject = value
            delivery.certIssuer = value
            delivery.certSerial = value
            delivery.certSHA256 = value
            delivery.certNotAfter = Int64(index) * 86_400 - 10
            delivery.remoteAddress = index % 2 == 0 ? "2001:db8::\(index + 1)" : "192.0.2.\(index)"
            delivery.tlsVersion = value
            delivery.tlsCipher = value
            deliveries.append(delivery)
        }
        var json = Self.delivery(client: "json", key: "k", body: Array(#"{"a": "x\"\\y", "b": [1, {}]}"#.utf8))
        json.headersJSON = "[]"
        deliveries.append(json)

        let outcomes = try harness.write(deliveries, startingWriter: true)
        #expect(outcomes == deliveries.map { .stored(id: $0.id) })

        let connection = try harness.database.connect()
        for delivery in deliveries {
            let row = try connection.query(
                """
                SELECT client_id, endpoint, method, path, query, headers = $2::jsonb, content_type, body, body_json,
                       body_sha256, idempotency_key, cert_subject, cert_issuer, cert_serial, cert_sha256,
                       cert_not_after = to_timestamp($3::bigint), host(remote_addr), tls_version, tls_cipher,
                       processing_state
                FROM deliveries WHERE id = $1::uuid
                """, [.text(delivery.id), .text(delivery.headersJSON), .text(String(delivery.certNotAfter))])
            try #require(row.rowCount == 1, "\(delivery.id) was not stored")
            #expect(row.string(0, 0) == delivery.clientID)
            #expect(row.string(0, 1) == delivery.endpoint)
            #expect(row.string(0, 2) == delivery.method)
            #expect(row.string(0, 3) == delivery.path)
            #expect(row.string(0, 4) == delivery.query, "NULL stays NULL, empty stays empty")
            #expect(row.bool(0, 5) == true, "headers")
            #expect(row.string(0, 6) == delivery.contentType)
            #expect(row.bytes(0, 7) == delivery.body, "body bytes, empty included")
            #expect(row.isNull(0, 8) == !delivery.bodyIsJSON)
            #expect(row.string(0, 9) == delivery.bodySHA256)
            #expect(row.string(0, 10) == delivery.idempotencyKey)
            #expect(row.string(0, 11) == delivery.certSubject)
            #expect(row.string(0, 12) == delivery.certIssuer)
            #expect(row.string(0, 13) == delivery.certSerial)
            #expect(row.string(0, 14) == delivery.certSHA256)
            #expect(row.bool(0, 15) == true, "cert_not_after")
            #expect(row.string(0, 16) == delivery.remoteAddress)
            #expect(row.string(0, 17) == delivery.tlsVersion)
            #expect(row.string(0, 18) == delivery.tlsCipher)
            #expect(row.string(0, 19) == "pending")
        }
        let parsed = try connection.query(
            "SELECT body_json = $2::jsonb FROM deliveries WHERE id = $1::uuid",
            [.text(json.id), .text(String(decoding: json.body, as: UTF8.self))])
        #expect(parsed.bool(0, 0) == true)
        // The DROP TABLE value stayed a value.
        #expect(try connection.query("SELECT count(*) FROM deliveries").int(0, 0) == deliveries.count)
    }

    // MARK: - Duplicates

    @Test("duplicates in the same batch and of stored rows are answered with the original id")
    func duplicatesAreAnsweredWithTheOriginal() throws {
        let harness = try Harness()
        let stored = Self.delivery(key: "evt_1")
        #expect(try harness.write([stored], startingWriter: true) == [.stored(id: stored.id)])

        let again = Self.delivery(key: "evt_1")
        let first = Self.delivery(key: "evt_2")
        let sibling = Self.delivery(key: "evt_2")
        let unkeyed = Self.delivery(key: nil)
        let otherClient = Self.delivery(client: "globex", key: "evt_1")
        let siblingOfStored = Self.delivery(key: "evt_1")
        let otherCase = Self.delivery(key: "EVT_2")
        let outcomes = try harness.write([again, first, sibling, unkeyed, otherClient, siblingOfStored, otherCase])
        #expect(
            outcomes == [
                .duplicate(id: stored.id), .stored(id: first.id), .duplicate(id: first.id), .stored(id: unkeyed.id),
                .stored(id: otherClient.id), .duplicate(id: stored.id), .stored(id: otherCase.id),
            ])

        // A batch of nothing but duplicates stores nothing and answers every one.
        let onlyDuplicates = [Self.delivery(key: "evt_1"), Self.delivery(key: "evt_2"), Self.delivery(key: "evt_1")]
        #expect(
            try harness.write(onlyDuplicates)
                == [.duplicate(id: stored.id), .duplicate(id: first.id), .duplicate(id: stored.id)])

        let connection = try harness.database.connect()
        #expect(try connection.query("SELECT count(*) FROM deliveries").int(0, 0) == 5)
    }

    @Test("a row PostgreSQL refuses fails alone: its JSON is retried without body_json, its neighbours stored")
    func refusedRowFallsBackAlone() throws {
        let harness = try Harness()
        // JSON that jsonb refuses (\u0000 has no place in jsonb text): the whole statement is refused, then
        // each row is written alone and this one again without body_json.
        let refused = Self.delivery(key: "nul", body: Array(#"{"a": "\u0000"}"#.utf8))
        let neighbours = [Self.delivery(key: "before"), Self.delivery(key: "after")]
        let outcomes = try harness.write([neighbours[0], refused, neighbours[1]], startingWriter: true)
        #expect(outcomes == [.stored(id: neighbours[0].id), .stored(id: refused.id), .stored(id: neighbours[1].id)])
        let connection = try harness.database.connect()
        let row = try connection.query(
            "SELECT body, body_json IS NULL FROM deliveries WHERE id = $1::uuid", [.text(refused.id)])
        #expect(row.bytes(0, 0) == refused.body)
        #expect(row.bool(0, 1) == true)
    }

    @Test("a duplicate whose original another session commits while the statement waits is answered with it")
    func duplicateOfAConcurrentCommit() throws {
        let harness = try Harness()
        let warmUp = Self.delivery(key: "warm-up")
        #expect(try harness.write([warmUp], startingWriter: true) == [.stored(id: warmUp.id)])
        // Another receiver stores evt_race and has not committed yet: the writer's INSERT waits for it on
        // the idempotency index, and its statement's snapshot will not see the row once it commits.
        let other = try harness.database.connect()
        try other.query("BEGIN")
        let original = try #require(
            try other.query(
                """
                INSERT INTO deliveries (client_id, endpoint, method, path, body, body_sha256, idempotency_key)
                VALUES ('acme', 'orders', 'POST', '/webhooks/orders', '', 'x', 'evt_race') RETURNING id::text
                """
            ).string(0, 0))
        let racing = [Self.delivery(key: "evt_race"), Self.delivery(key: "fresh")]
        let tickets = harness.submit(racing)
        let admin = try harness.database.connect()
        var waiting = false
        for _ in 0..<300 where !waiting {
            waiting =
                try admin.query(
                    """
                    SELECT count(*) > 0 FROM pg_stat_activity
                    WHERE datname = current_database() AND application_name = 'webhookd writer'
                      AND wait_event_type = 'Lock'
                    """
                ).bool(0, 0) == true
            if !waiting { usleep(20_000) }
        }
        #expect(waiting, "the writer's statement never waited for the other session")
        try other.query("COMMIT")
        #expect(try harness.outcomes(of: tickets) == [.duplicate(id: original), .stored(id: racing[1].id)])
    }

    // MARK: - Batch sizes

    @Test("more than maxBatch queued at once (a full batch and the rest), then a batch of one, all stored")
    func moreThanMaxBatchThenBatchOfOne() throws {
        let harness = try Harness(maxBatch: 256)
        // Queued before the writer starts: its first batch is 256 rows, the second 44.
        let many = (0..<300).map { Self.delivery(key: $0 % 7 == 0 ? nil : "evt_\($0)") }
        #expect(try harness.write(many, startingWriter: true) == many.map { .stored(id: $0.id) })
        let single = Self.delivery(key: "single")
        #expect(try harness.write([single]) == [.stored(id: single.id)])

        let connection = try harness.database.connect()
        let stored = try connection.query(
            "SELECT count(*), bool_and(id::text = ANY($1::text[])) FROM deliveries",
            [.textArray(many.map(\.id) + [single.id])])
        #expect(stored.int(0, 0) == 301)
        #expect(stored.bool(0, 1) == true)
    }

    // MARK: - Reconnect

    @Test("after its backend is terminated the writer notices before sending, reconnects and prepares again")
    func preparesAgainAfterReconnect() throws {
        let harness = try Harness()
        let before = Self.delivery(key: "before")
        #expect(try harness.write([before], startingWriter: true) == [.stored(id: before.id)])

        let admin = try harness.database.connect()
        let terminated = try admin.query(
            """
            SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'webhookd writer'
            """)
        #expect(terminated.rowCount == 1 && terminated.bool(0, 0) == true)

        // The dead session is seen before the statement is sent: the batch goes on a new session.
        let lost = Self.delivery(key: "lost")
        #expect(try harness.write([lost]) == [.stored(id: lost.id)])
        // The next batch runs on a new session, where the statement must be prepared again.
        let after = [Self.delivery(key: "after"), Self.delivery(key: "before")]
        #expect(try harness.write(after) == [.stored(id: after[0].id), .duplicate(id: before.id)])
        let sessions = try admin.query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
            [.text("webhookd writer")])
        #expect(sessions.int(0, 0) == 1)
    }

    @Test("a batch that commits with a WARNING (sync replication cancelled) is not answered 2xx")
    func warningOnCommitIsNotAnswered2xx() throws {
        let harness = try Harness()
        let admin = try harness.database.connect()
        try admin.executeScript(
            """
            CREATE FUNCTION test_warn() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE WARNING 'committed locally, but might not have been replicated'; RETURN NULL; END $$;
            CREATE TRIGGER test_warn AFTER INSERT ON deliveries FOR EACH STATEMENT EXECUTE FUNCTION test_warn();
            """)
        let warned = Self.delivery(key: "warned")
        #expect(try harness.write([warned], startingWriter: true) == [.unknown])
        try admin.executeScript("DROP TRIGGER test_warn ON deliveries")
        let plain = Self.delivery(key: "plain")
        #expect(try harness.write([plain]) == [.stored(id: plain.id)])
    }

    // MARK: - NOTIFY

    @Test("every delivery of a batch notifies webhookd_deliveries with its id; duplicates notify nothing")
    func batchNotifiesEachID() throws {
        let harness = try Harness()
        let listener = try harness.database.connect()
        try listener.listen("webhookd_deliveries")
        let first = [Self.delivery(key: "a"), Self.delivery(key: nil), Self.delivery(key: "b")]
        #expect(try harness.write(first, startingWriter: true) == first.map { .stored(id: $0.id) })
        let second = [Self.delivery(key: "a"), Self.delivery(key: "c")]
        #expect(try harness.write(second) == [.duplicate(id: first[0].id), .stored(id: second[1].id)])
        try harness.database.connect().query("SELECT pg_notify('webhookd_deliveries', 'marker')")

        var payloads: [String] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while payloads.last != "marker" && ContinuousClock.now < deadline {
            payloads += try listener.waitForNotifications(timeout: .seconds(1)).map(\.payload)
        }
        #expect(payloads == first.map(\.id) + [second[1].id, "marker"])
    }

    // MARK: - Ids

    @Test("ids are version 7 UUIDs that sort by time and PostgreSQL reads as uuid")
    func idsAreTimeOrderedVersion7() throws {
        let earlier = UUIDv7.make(unixMilliseconds: 1_700_000_000_000)
        let later = UUIDv7.make(unixMilliseconds: 1_700_000_000_001)
        let now = UUIDv7.make()
        for id in [earlier, later, now] {
            let characters = Array(id)
            #expect(characters.count == 36)
            #expect([8, 13, 18, 23].allSatisfy { characters[$0] == "-" })
            #expect(characters[14] == "7", "version")
            #expect("89ab".contains(characters[19]), "variant")
            #expect(id.allSatisfy { $0 == "-" || $0.isHexDigit && !$0.isUppercase })
        }
        #expect(earlier < later && later < now)
        // 1_700_000_000_000 ms = 0x018BCFE56800.
        #expect(earlier.hasPrefix("018bcfe5-6800-7"))
        #expect(UUIDv7.make(unixMilliseconds: 42) != UUIDv7.make(unixMilliseconds: 42))
    }
}

/// `[["name","value"],…]` as the receiver builds the `headers` column.
private func jsonPairs(_ pairs: [(String, String)]) -> String {
    Delivery.headersJSON(pairs.map { HTTPHeader(name: $0.0, value: $0.1) })
}
