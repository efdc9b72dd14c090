import Logging
import Postgres

/// One batch of deliveries in one prepared statement, whatever the batch size: each column travels as
/// one binary array parameter (`PGBinaryArray`: length-prefixed elements, nothing escaped, no request
/// data in SQL text — rule 3), `unnest` turns the arrays back into rows (in array order, so the first of
/// two rows with one key is the one inserted), and the same statement answers each input row with the id
/// that stands for it:
/// - its own id when it was inserted;
/// - for a (client, idempotency key) that was already stored, the original's id: the first row of the
///   batch with that key, or the row stored before the statement began.
///
/// A single statement outside BEGIN is its own transaction, so its result arriving means it committed.
/// Only a duplicate whose original another session committed while this statement ran is not visible
/// to the statement's snapshot; those (rare) rows get one lookup each afterwards. The wide columns are
/// read once, by the INSERT; the answer unnests only the ids and keys again.
enum DeliveryInsert {
    /// Prepared once per writer session (`PGConnection.execute` prepares it again after a reconnect).
    static let statement = PGPreparedStatement(
        name: "webhookd_insert_deliveries",
        sql: """
            WITH inserted AS (
                INSERT INTO deliveries (id, client_id, endpoint, method, path, query, headers, content_type, body,
                                        body_json, body_sha256, idempotency_key, cert_subject, cert_issuer,
                                        cert_serial, cert_sha256, cert_not_after, remote_addr, tls_version,
                                        tls_cipher, signature_status)
                SELECT i.id::uuid, i.client_id, i.endpoint, i.method, i.path, i.query, i.headers, i.content_type,
                       i.body, CASE WHEN i.is_json THEN convert_from(i.body, 'UTF8')::jsonb END, i.body_sha256,
                       i.idempotency_key, i.cert_subject, i.cert_issuer, i.cert_serial, i.cert_sha256,
                       to_timestamp(i.cert_not_after), i.remote_addr::inet, i.tls_version, i.tls_cipher,
                       i.signature_status
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                            $7::jsonb[], $8::text[], $9::bytea[], $10::boolean[], $11::text[], $12::text[],
                            $13::text[], $14::text[], $15::text[], $16::text[], $17::bigint[], $18::text[],
                            $19::text[], $20::text[], $21::text[])
                     AS i (id, client_id, endpoint, method, path, query, headers, content_type, body, is_json,
                           body_sha256, idempotency_key, cert_subject, cert_issuer, cert_serial, cert_sha256,
                           cert_not_after, remote_addr, tls_version, tls_cipher, signature_status)
                ON CONFLICT (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                RETURNING id, client_id, idempotency_key
            )
            SELECT mine.id IS NOT NULL,
                   coalesce(mine.id, CASE WHEN input.idempotency_key IS NOT NULL THEN coalesce(
                       (SELECT sibling.id FROM inserted AS sibling
                        WHERE sibling.client_id = input.client_id
                          AND sibling.idempotency_key = input.idempotency_key),
                       (SELECT stored.id FROM deliveries AS stored
                        WHERE stored.client_id = input.client_id
                          AND stored.idempotency_key = input.idempotency_key)) END)::text
            FROM unnest($1::text[], $2::text[], $12::text[]) WITH ORDINALITY
                 AS input (id, client_id, idempotency_key, position)
            LEFT JOIN inserted AS mine ON mine.id = input.id::uuid
            ORDER BY input.position
            """)

    /// Writes `deliveries` with one statement and returns one outcome per delivery, in order.
    /// - Throws: the statement's error, in which case nothing of the batch was stored.
    static func write(_ deliveries: [Delivery], on connection: PGConnection, logger: Logger) throws(PostgresError)
        -> [DeliveryOutcome]
    {
        let result = try connection.execute(statement, parameters(deliveries))
        guard result.rowCount == deliveries.count else {
            // Cannot happen (one answer row per input row by construction), and the rows are committed,
            // so writing them again would be wrong: report them failed.
            logger.error(
                "the delivery statement answered an unexpected number of rows",
                metadata: ["rows": "\(result.rowCount)", "expected": "\(deliveries.count)"])
            return Array(repeating: .unknown, count: deliveries.count)
        }
        return deliveries.indices.map { row in
            if result.bool(row, 0) == true { return .stored(id: deliveries[row].id) }
            if let original = result.string(row, 1) { return .duplicate(id: original) }
            return concurrentOriginal(of: deliveries[row], on: connection, logger: logger)
        }
    }

    /// The original of a duplicate that another session committed while the statement ran (so its
    /// snapshot could not see it). Runs after the batch committed: a failure here answers this row
    /// alone and never rewrites the batch.
    private static func concurrentOriginal(of delivery: Delivery, on connection: PGConnection, logger: Logger)
        -> DeliveryOutcome
    {
        // Not inserted without a key cannot happen: the statement only skips idempotency conflicts.
        // This row was not inserted, so "not stored" is the truth whenever its original cannot be named.
        guard let key = delivery.idempotencyKey else { return .unavailable }
        do throws(PostgresError) {
            let original = try connection.query(
                "SELECT id FROM deliveries WHERE client_id = $1 AND idempotency_key = $2",
                [.text(delivery.clientID), .text(key)])
            guard let id = original.string(0, 0) else { return .unavailable }
            return .duplicate(id: id)
        } catch {
            logger.error("looking up the original of a duplicate failed", metadata: ["error": "\(error.message)"])
            return .unavailable
        }
    }

    /// The statement's twenty-one array parameters, one element per delivery in each. Rows are read in
    /// place by index: a `for delivery in deliveries` copies each Delivery, retaining every one of its
    /// strings, once per column (a quarter of the writer thread's CPU in `perf`, in swift_retain/release).
    static func parameters(_ deliveries: [Delivery]) -> [PGValue] {
        deliveries.withUnsafeBufferPointer { rows in
            let count = rows.count
            func textColumn(_ value: (borrowing Delivery) -> String?) -> PGValue {
                var array = PGBinaryArray(of: .text, reservingBytes: count * 48)
                for row in rows.indices { array.append(text: value(rows[row])) }
                return .binaryArray(array)
            }
            var headers = PGBinaryArray(
                of: .jsonb, reservingBytes: rows.indices.reduce(0) { $0 + rows[$1].headersJSON.utf8.count + 5 })
            var bodies = PGBinaryArray(
                of: .bytea, reservingBytes: rows.indices.reduce(0) { $0 + rows[$1].body.count + 4 })
            var isJSON = PGBinaryArray(of: .bool, reservingBytes: count * 5)
            var notAfter = PGBinaryArray(of: .int8, reservingBytes: count * 12)
            for row in rows.indices {
                headers.append(jsonText: rows[row].headersJSON)
                bodies.append(bytes: rows[row].body)
                isJSON.append(bool: rows[row].bodyIsJSON)
                notAfter.append(int8: rows[row].certNotAfter)
            }
            return [
                textColumn { $0.id }, textColumn { $0.clientID }, textColumn { $0.endpoint },
                textColumn { $0.method }, textColumn { $0.path }, textColumn { $0.query }, .binaryArray(headers),
                textColumn { $0.contentType }, .binaryArray(bodies), .binaryArray(isJSON),
                textColumn { $0.bodySHA256 }, textColumn { $0.idempotencyKey }, textColumn { $0.certSubject },
                textColumn { $0.certIssuer }, textColumn { $0.certSerial }, textColumn { $0.certSHA256 },
                .binaryArray(notAfter), textColumn { $0.remoteAddress }, textColumn { $0.tlsVersion },
                textColumn { $0.tlsCipher }, textColumn { $0.signatureStatus?.rawValue },
            ]
        }
    }
}
