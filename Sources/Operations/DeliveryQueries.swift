import Foundation
package import Postgres

/// The LISTEN channel every committed delivery notifies with its id (sql/001_schema.sql).
package let deliveriesChannel = "webhookd_deliveries"

// MARK: - DeliverySince

/// How far back `webhookd deliveries list --since` looks (SPEC: `30s`, `15m`, `2h`, `7d`, or an
/// ISO-8601 timestamp).
package enum DeliverySince: Sendable, Equatable {
    /// Deliveries received in the last `seconds` seconds, measured by the database's clock.
    case last(seconds: Int)
    /// Deliveries received at or after this ISO-8601 timestamp (text the server parses as
    /// `timestamptz`; without an offset it is read in the session's time zone).
    case at(String)

    /// Parses `--since`'s value.
    /// - Throws: `DeliveryQueryError.invalidInput` naming the flag and the accepted forms.
    package init(parsing text: String) throws(DeliveryQueryError) {
        if let match = text.wholeMatch(of: /([0-9]{1,9})([smhd])/), let amount = Int(match.1) {
            let unit =
                switch match.2 {
                case "s": 1
                case "m": 60
                case "h": 3_600
                default: 86_400
                }
            self = .last(seconds: amount * unit)
            return
        }
        // A date, optionally a time (T or a space; minutes, seconds, a fraction), optionally an offset.
        let isoTimestamp =
            #/
            [0-9]{4}-[0-9]{2}-[0-9]{2}
            ( [T\x20] [0-9]{2}:[0-9]{2} (:[0-9]{2} (\.[0-9]{1,9})? )? (Z|[+-][0-9]{2}(:?[0-9]{2})?)? )?
            /#
        guard text.wholeMatch(of: isoTimestamp) != nil else {
            throw DeliveryQueryError(
                .invalidInput,
                "--since '\(text)' is neither a duration (30s, 15m, 2h, 7d) nor an ISO-8601 timestamp "
                    + "(2024-05-01, 2024-05-01T12:00:00Z)")
        }
        self = .at(text)
    }
}

// MARK: - DeliveryFilter

/// What `deliveries list` and `deliveries tail` show: every filter is optional.
package struct DeliveryFilter: Sendable, Equatable {
    /// Only this client's deliveries.
    package var clientID: String?
    /// Only deliveries to this endpoint.
    package var endpoint: String?
    /// Only deliveries received since then.
    package var since: DeliverySince?
    /// At most this many rows (list only); the newest are kept.
    package var limit: Int

    /// The largest `--limit` accepted.
    package static let maximumLimit = 10_000

    /// Creates a filter.
    /// - Throws: `.invalidInput` when `limit` is not in 1…10,000.
    package init(
        clientID: String? = nil, endpoint: String? = nil, since: DeliverySince? = nil, limit: Int = 50
    ) throws(DeliveryQueryError) {
        guard (1...Self.maximumLimit).contains(limit) else {
            throw DeliveryQueryError(.invalidInput, "--limit must be between 1 and \(Self.maximumLimit), not \(limit)")
        }
        self.clientID = clientID
        self.endpoint = endpoint
        self.since = since
        self.limit = limit
    }

    /// `$1`…`$4` of the statements below: client, endpoint, since-timestamp, since-interval.
    var parameters: [PGValue] {
        var timestamp = PGValue.null
        var interval = PGValue.null
        switch since {
        case .last(let seconds): interval = .text("\(seconds) seconds")
        case .at(let text): timestamp = .text(text)
        case nil: break
        }
        return [.optional(clientID), .optional(endpoint), timestamp, interval]
    }
}

// MARK: - Rows

/// One delivery as `deliveries list` and `tail` show it: everything but the body and headers.
package struct DeliverySummary: Sendable, Equatable {
    /// The delivery id (a UUID, lower case).
    package var id: String
    /// When it was committed, ISO-8601 in UTC with microseconds (`2024-05-01T12:00:00.123456Z`).
    package var receivedAt: String
    /// The client id (its certificate's CN).
    package var clientID: String
    /// The endpoint name from `/webhooks/{endpoint}`.
    package var endpoint: String
    /// The request method (`POST`).
    package var method: String
    /// The request path as received.
    package var path: String
    /// The query string without `?`; nil when the request had none.
    package var query: String?
    /// The `Content-Type` header, nil when absent.
    package var contentType: String?
    /// The body's length in bytes.
    package var bodyBytes: Int
    /// SHA-256 of the body, 64 lower-case hex digits.
    package var bodySHA256: String
    /// The idempotency key (SPEC's header list), nil when the request had none.
    package var idempotencyKey: String?
    /// `pending`, `claimed`, `done` or `failed`.
    package var processingState: String
    /// The body as the database's `jsonb` text, nil when the body is not JSON.
    package var bodyJSON: String?
}

/// One delivery with everything `deliveries show` prints.
package struct DeliveryDetail: Sendable, Equatable {
    /// The list columns.
    package var summary: DeliverySummary
    /// The request headers in arrival order, duplicates kept.
    package var headers: [(name: String, value: String)]
    /// The exact body bytes.
    package var body: [UInt8]
    /// The client certificate's subject, RFC 4514.
    package var certSubject: String?
    /// The client certificate's issuer, RFC 4514.
    package var certIssuer: String?
    /// The client certificate's serial, upper-case hex.
    package var certSerial: String?
    /// The client certificate's SHA-256 fingerprint.
    package var certSHA256: String?
    /// The client certificate's notAfter, ISO-8601 UTC.
    package var certNotAfter: String?
    /// The peer's IP address.
    package var remoteAddress: String?
    /// The TLS version (`TLSv1.3`).
    package var tlsVersion: String?
    /// The TLS cipher suite, OpenSSL's name.
    package var tlsCipher: String?
    /// When a consumer claimed it (ISO-8601 UTC), nil while pending.
    package var claimedAt: String?
    /// When a consumer marked it done or failed, nil before.
    package var processedAt: String?

    /// Equal when every field is (headers compared pair by pair: tuples are not Equatable).
    package static func == (left: DeliveryDetail, right: DeliveryDetail) -> Bool {
        left.summary == right.summary && left.headers.elementsEqual(right.headers, by: { $0 == $1 })
            && left.body == right.body && left.certSubject == right.certSubject
            && left.certIssuer == right.certIssuer && left.certSerial == right.certSerial
            && left.certSHA256 == right.certSHA256 && left.certNotAfter == right.certNotAfter
            && left.remoteAddress == right.remoteAddress && left.tlsVersion == right.tlsVersion
            && left.tlsCipher == right.tlsCipher && left.claimedAt == right.claimedAt
            && left.processedAt == right.processedAt
    }
}

// MARK: - DeliveryQueries

/// The read-only queries behind `webhookd deliveries list`, `show` and `tail`. Every value travels as a
/// bound parameter; the statement texts are literals of this type.
///
/// > Warning: every call blocks on the network; use it on the thread that owns `connection`.
package struct DeliveryQueries {
    private let connection: PGConnection

    /// Uses `connection` for every query.
    package init(connection: PGConnection) {
        self.connection = connection
    }

    /// Timestamps as ISO-8601 in UTC, whatever the session's TimeZone and DateStyle.
    private static func utc(_ column: String) -> String {
        "to_char(\(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    }

    /// The columns `summary(_:_:)` reads, in its order.
    private static let summaryColumns = """
        id::text, \(utc("received_at")), client_id, endpoint, method, path, query, content_type,
        octet_length(body), body_sha256, idempotency_key, processing_state, body_json::text
        """

    /// `$1` client, `$2` endpoint, `$3` since (timestamp), `$4` since (interval): NULL = no filter. The
    /// statements run unnamed, so the planner sees the values and drops the unused branches.
    private static let filterConditions = """
        ($1::text IS NULL OR client_id = $1::text)
        AND ($2::text IS NULL OR endpoint = $2::text)
        AND ($3::timestamptz IS NULL OR received_at >= $3::timestamptz)
        AND ($4::interval IS NULL OR received_at >= now() - $4::interval)
        """

    /// The newest deliveries that pass `filter`, newest first, at most `filter.limit`.
    /// - Throws: `.invalidInput` for a `--since` timestamp the server cannot read; `.database` otherwise.
    package func list(_ filter: DeliveryFilter) throws(DeliveryQueryError) -> [DeliverySummary] {
        let result = try run(
            """
            SELECT \(Self.summaryColumns) FROM deliveries
            WHERE \(Self.filterConditions)
            ORDER BY received_at DESC, id
            LIMIT $5
            """, filter.parameters + [.int(filter.limit)])
        return (0..<result.rowCount).map { Self.summary(result, $0) }
    }

    /// One delivery with its headers and body.
    /// - Throws: `.invalidInput` when `id` is not a UUID, `.notFound` when no delivery has it.
    package func show(_ id: String) throws(DeliveryQueryError) -> DeliveryDetail {
        let result = try run(
            """
            SELECT \(Self.summaryColumns), headers::text, body, cert_subject, cert_issuer, cert_serial,
                   cert_sha256, \(Self.utc("cert_not_after")), host(remote_addr), tls_version, tls_cipher,
                   \(Self.utc("claimed_at")), \(Self.utc("processed_at"))
            FROM deliveries WHERE id = $1::uuid
            """, [.text(id)])
        guard result.rowCount == 1 else {
            throw DeliveryQueryError(
                .notFound, "no delivery with id \(id); 'webhookd deliveries list' shows the recent ones")
        }
        let base = 13
        return DeliveryDetail(
            summary: Self.summary(result, 0),
            headers: Self.headerPairs(result.string(0, base) ?? "[]"),
            body: result.bytes(0, base + 1) ?? [],
            certSubject: result.string(0, base + 2), certIssuer: result.string(0, base + 3),
            certSerial: result.string(0, base + 4), certSHA256: result.string(0, base + 5),
            certNotAfter: result.string(0, base + 6), remoteAddress: result.string(0, base + 7),
            tlsVersion: result.string(0, base + 8), tlsCipher: result.string(0, base + 9),
            claimedAt: result.string(0, base + 10), processedAt: result.string(0, base + 11))
    }

    // MARK: Following

    /// Subscribes this session to new deliveries (`LISTEN webhookd_deliveries`). Deliveries committed
    /// from now on are returned by `waitForNew(_:timeout:)`.
    package func startFollowing() throws(DeliveryQueryError) {
        do {
            try connection.listen(deliveriesChannel)
        } catch {
            throw DeliveryQueryError(database: error)
        }
    }

    /// Waits up to `timeout` for deliveries committed since `startFollowing()` (or the previous call),
    /// and returns those that pass `filter`'s client, endpoint and since conditions, oldest first.
    /// - Returns: an empty array when nothing (that passes the filter) arrived in time.
    /// - Throws: `.database` when the session broke (the server stopped, the network dropped); the
    ///   command reports it with exit 1, not as an unreachable database.
    package func waitForNew(_ filter: DeliveryFilter, timeout: Duration) throws(DeliveryQueryError)
        -> [DeliverySummary]
    {
        let ids: [String]
        do {
            ids = try connection.waitForNotifications(timeout: timeout)
                .filter { $0.channel == deliveriesChannel }.map(\.payload)
        } catch {
            // Not a configuration problem (the database was reachable): a failure while following.
            throw DeliveryQueryError(.database, "stopped following deliveries: \(error.message)")
        }
        guard !ids.isEmpty else { return [] }
        // The NOTIFY is sent at commit, so the rows are visible now.
        let result = try run(
            """
            SELECT \(Self.summaryColumns) FROM deliveries
            WHERE \(Self.filterConditions) AND id = ANY($5::uuid[])
            ORDER BY received_at, id
            """, filter.parameters + [.textArray(ids)])
        return (0..<result.rowCount).map { Self.summary(result, $0) }
    }

    /// Follows new deliveries until `shouldStop` says so: after `startFollowing()`, hands each delivery
    /// that passes `filter` to `emit`, oldest first, as it is committed. `shouldStop` is asked at least every
    /// `checkInterval` (a delivery is emitted as soon as its NOTIFY arrives, whatever the interval).
    /// - Throws: `.database` when the session broke.
    /// > Warning: blocks the calling thread until `shouldStop` returns true.
    package func follow(
        _ filter: DeliveryFilter, checkInterval: Duration = .milliseconds(250), shouldStop: () -> Bool,
        emit: (DeliverySummary) -> Void
    ) throws(DeliveryQueryError) {
        while !shouldStop() {
            for delivery in try waitForNew(filter, timeout: checkInterval) {
                emit(delivery)
            }
        }
    }

    // MARK: Internals

    private func run(_ sql: String, _ parameters: [PGValue]) throws(DeliveryQueryError) -> PGResult {
        do {
            return try connection.query(sql, parameters)
        } catch {
            throw DeliveryQueryError(database: error)
        }
    }

    private static func summary(_ result: PGResult, _ row: Int) -> DeliverySummary {
        DeliverySummary(
            id: result.string(row, 0) ?? "", receivedAt: result.string(row, 1) ?? "",
            clientID: result.string(row, 2) ?? "", endpoint: result.string(row, 3) ?? "",
            method: result.string(row, 4) ?? "", path: result.string(row, 5) ?? "", query: result.string(row, 6),
            contentType: result.string(row, 7), bodyBytes: result.int(row, 8) ?? 0,
            bodySHA256: result.string(row, 9) ?? "", idempotencyKey: result.string(row, 10),
            processingState: result.string(row, 11) ?? "", bodyJSON: result.string(row, 12))
    }

    /// `headers` is jsonb text of `[[name, value], …]` (SPEC); anything else yields no pairs.
    static func headerPairs(_ text: String) -> [(name: String, value: String)] {
        // Malformed text (never written by webhookd) shows as no headers rather than failing `show`.
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8)), let pairs = parsed as? [Any]
        else { return [] }
        return pairs.compactMap { element in
            guard let pair = element as? [Any], pair.count == 2, let name = pair[0] as? String,
                let value = pair[1] as? String
            else { return nil }
            return (name, value)
        }
    }
}

// MARK: - DeliveryQueryError

/// What `DeliveryQueries` reports: bad input, a missing delivery, or a database failure.
package struct DeliveryQueryError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; open for additions.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// A flag's value (`--since`, `--limit`, an id) does not have the required form.
        package static let invalidInput = Code("invalid input")
        /// No delivery has this id.
        package static let notFound = Code("not found")
        /// The database failed or is unreachable; see `underlying`.
        package static let database = Code("database")

        /// The code's name.
        package var description: String { name }
    }

    /// The kind of failure.
    package var code: Code
    /// One line for a person, naming the flag or the id.
    package var message: String
    /// The database error behind a `.database` failure.
    package var underlying: PostgresError?

    /// Creates an error.
    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Classifies a database error: the server refusing a value we passed (an id that is not a UUID,
    /// a timestamp out of range) is the user's input, anything else is the database's failure.
    init(database error: PostgresError) {
        switch error.sqlState {
        case "22P02":
            self.init(.invalidInput, "not a delivery id (a UUID): \(error.message)")
        case "22007", "22008", "22009":
            self.init(.invalidInput, "--since is not a valid timestamp: \(error.message)")
        case "42P01":
            self.init(.database, RegistryError.notMigrated)
            self.underlying = error
        default:
            self.init(.database, error.message)
            self.underlying = error
        }
    }

    /// True when the command line (or the database location) is at fault: SPEC's exit 64.
    package var isUsageProblem: Bool {
        code == .invalidInput || underlying?.isConnectionProblem == true
    }

    /// The message.
    package var description: String { message }
}
