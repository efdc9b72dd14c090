package import Postgres

/// One row for the `deliveries` table, with what the receiver would have stored: tests insert it with
/// bound parameters instead of running a server.
package struct SampleDelivery: Sendable {
    package var clientID: String
    package var endpoint: String
    package var body: [UInt8]
    /// Stored in `body_json` too (as the receiver does for JSON bodies).
    package var isJSON: Bool
    package var contentType: String?
    package var idempotencyKey: String?
    /// Extra request headers; `Content-Type` and the key's header are added from the fields above.
    package var headers: [(String, String)]
    /// How long ago it arrived, as a PostgreSQL interval (`'3 hours'`).
    package var age: String
    /// The presenting certificate's SHA-256 (64 lower-case hex).
    package var certSHA256: String
    package var query: String?

    /// A JSON delivery.
    package static func json(
        _ text: String, client: String, endpoint: String, key: String? = nil, age: String = "0 seconds",
        certSHA256: String = SampleDeliveries.acmeCertificate
    ) -> SampleDelivery {
        SampleDelivery(
            clientID: client, endpoint: endpoint, body: Array(text.utf8), isJSON: true,
            contentType: "application/json", idempotencyKey: key, headers: [("User-Agent", "provider/1.0")],
            age: age, certSHA256: certSHA256, query: nil)
    }
}

/// The populated database of the inspection-kit and `deliveries` command tests: two active clients, a
/// quiet one, a disabled one, JSON, text and binary deliveries, a payload stored twice, and rejections.
package struct SampleDeliveries: Sendable {
    /// The fingerprint of acme's certificate in every sample delivery of acme.
    package static let acmeCertificate = String(repeating: "a1", count: 32)
    /// The fingerprint of globex's certificate.
    package static let globexCertificate = String(repeating: "b2", count: 32)
    /// The binary body of `acmeBinary` (a PNG signature, NUL and 0xFF bytes).
    package static let binaryBody: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0xFF, 0x10, 0x7F]

    /// acme, orders, `{"type":"invoice.paid",…}`, key evt_0001, 3 hours ago.
    package var acmeInvoicePaid: String
    /// acme, orders, `{"type":"invoice.created",…}`, key evt_0002, 2 hours ago.
    package var acmeInvoiceCreated: String
    /// acme, orders, the same bytes as `acmeInvoicePaid` under key evt_0003, 1 hour ago.
    package var acmeInvoicePaidAgain: String
    /// acme, billing, `binaryBody` as application/octet-stream, no key, 30 minutes ago.
    package var acmeBinary: String
    /// globex, refunds, text "hello refund", X-GitHub-Delivery gh-1, 10 minutes ago.
    package var globexText: String
    /// globex, refunds, JSON, 2 days ago (outside every "recent" window).
    package var globexOld: String

    /// Every delivery id, oldest first.
    package var allOldestFirst: [String] {
        [globexOld, acmeInvoicePaid, acmeInvoiceCreated, acmeInvoicePaidAgain, acmeBinary, globexText]
    }

    /// Inserts the clients, deliveries and rejections described above.
    /// - Throws: the database's error.
    package static func populate(on connection: PGConnection) throws -> SampleDeliveries {
        // acme: certificate expires in 10 days, seen a minute ago. globex: last seen 8 days ago.
        // initech: registered 10 days ago, never seen. umbrella: disabled (never listed as needing attention).
        try connection.query(
            """
            INSERT INTO clients (client_id, endpoints, enabled, created_at, last_seen_at, last_cert_not_after)
            VALUES ('acme', '{orders,billing}', true, now() - interval '30 days', now() - interval '1 minute',
                    now() + interval '10 days'),
                   ('globex', '{refunds}', true, now() - interval '30 days', now() - interval '8 days',
                    now() + interval '300 days'),
                   ('initech', '{orders}', true, now() - interval '10 days', NULL, NULL),
                   ('umbrella', '{*}', false, now() - interval '30 days', now() - interval '20 days',
                    now() + interval '1 day')
            """)
        let paid = #"{"type": "invoice.paid", "data": {"invoice": "in_1", "amount": 4200, "customer": "cus_42"}}"#
        let created = #"{"type":"invoice.created","data":{"invoice":"in_2","amount":990}}"#
        var textDelivery = SampleDelivery(
            clientID: "globex", endpoint: "refunds", body: Array("hello refund\n".utf8), isJSON: false,
            contentType: "text/plain; charset=utf-8", idempotencyKey: "gh-1", headers: [], age: "10 minutes",
            certSHA256: globexCertificate, query: "attempt=1")
        textDelivery.headers = [("X-GitHub-Delivery", "gh-1")]
        let samples = SampleDeliveries(
            acmeInvoicePaid: try insert(
                .json(paid, client: "acme", endpoint: "orders", key: "evt_0001", age: "3 hours"), on: connection),
            acmeInvoiceCreated: try insert(
                .json(created, client: "acme", endpoint: "orders", key: "evt_0002", age: "2 hours"), on: connection),
            acmeInvoicePaidAgain: try insert(
                .json(paid, client: "acme", endpoint: "orders", key: "evt_0003", age: "1 hour"), on: connection),
            acmeBinary: try insert(
                SampleDelivery(
                    clientID: "acme", endpoint: "billing", body: binaryBody, isJSON: false,
                    contentType: "application/octet-stream", idempotencyKey: nil, headers: [], age: "30 minutes",
                    certSHA256: acmeCertificate, query: nil), on: connection),
            globexText: try insert(textDelivery, on: connection),
            globexOld: try insert(
                .json(
                    #"{"type":"refund.created","id":42}"#, client: "globex", endpoint: "refunds", key: "gh-0",
                    age: "2 days", certSHA256: globexCertificate), on: connection))
        // Three handshake refusals and two authorization refusals in the last hour; one older.
        try connection.query(
            """
            INSERT INTO rejections (at, stage, reason, remote_addr, client_id, endpoint)
            VALUES (now() - interval '5 minutes', 'handshake', 'unknown_issuer', '198.51.100.7', NULL, NULL),
                   (now() - interval '6 minutes', 'handshake', 'unknown_issuer', '198.51.100.7', NULL, NULL),
                   (now() - interval '7 minutes', 'handshake', 'unknown_issuer', '198.51.100.8', NULL, NULL),
                   (now() - interval '8 minutes', 'authorization', 'endpoint_not_granted', '192.0.2.1', 'acme',
                    'refunds'),
                   (now() - interval '9 minutes', 'authorization', 'endpoint_not_granted', '192.0.2.1', 'acme',
                    'refunds'),
                   (now() - interval '2 hours', 'handshake', 'expired', '192.0.2.9', NULL, NULL)
            """)
        return samples
    }

    /// Inserts one delivery the way the receiver stores it (headers as `[name, value]` pairs, body
    /// hash, body_json for JSON) and returns its id.
    /// - Throws: the database's error.
    @discardableResult
    package static func insert(_ delivery: SampleDelivery, on connection: PGConnection) throws -> String {
        var headers: [(String, String)] = [("Host", "webhooks.example.com")]
        if let contentType = delivery.contentType { headers.append(("Content-Type", contentType)) }
        if let key = delivery.idempotencyKey, !delivery.headers.contains(where: { $0.0 == "X-GitHub-Delivery" }) {
            headers.append(("webhook-id", key))
        }
        headers += delivery.headers
        let result = try connection.query(
            """
            INSERT INTO deliveries (
                received_at, client_id, endpoint, method, path, query, headers, content_type, body, body_json,
                body_sha256, idempotency_key, cert_subject, cert_issuer, cert_serial, cert_sha256, cert_not_after,
                remote_addr, tls_version, tls_cipher)
            VALUES (
                now() - $1::interval, $2, $3, 'POST', '/webhooks/' || $3, $4, $5::jsonb, $6, $7,
                CASE WHEN $8::boolean THEN convert_from($7, 'UTF8')::jsonb END, encode(sha256($7), 'hex'), $9,
                'CN=' || $2 || ',O=Example', 'CN=Example Partner CA', '1A2B3C', $10, now() + interval '90 days',
                '203.0.113.5', 'TLSv1.3', 'TLS_AES_128_GCM_SHA256')
            RETURNING id::text
            """,
            [
                .text(delivery.age), .text(delivery.clientID), .text(delivery.endpoint), .optional(delivery.query),
                .text(headersJSON(headers)), .optional(delivery.contentType), .bytes(delivery.body),
                .bool(delivery.isJSON), .optional(delivery.idempotencyKey), .text(delivery.certSHA256),
            ])
        guard let id = result.string(0, 0) else {
            throw PostgresError(.unexpectedResult, "INSERT … RETURNING id returned no id")
        }
        return id
    }

    /// `[["name","value"],…]` with every string escaped.
    static func headersJSON(_ headers: [(String, String)]) -> String {
        func quoted(_ text: String) -> String {
            var output = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": output += "\\\""
                case "\\": output += "\\\\"
                case _ where scalar.value < 0x20: output += "\\u" + String(scalar.value, radix: 16).leftPadded4
                default: output.unicodeScalars.append(scalar)
                }
            }
            return output + "\""
        }
        return "[" + headers.map { "[\(quoted($0.0)),\(quoted($0.1))]" }.joined(separator: ",") + "]"
    }
}

extension String {
    fileprivate var leftPadded4: String { String(repeating: "0", count: max(0, 4 - count)) + self }
}
