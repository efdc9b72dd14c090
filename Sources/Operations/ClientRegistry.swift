import HTTP1
package import Postgres
package import Receiver

/// One registered client, as the `clients` table holds it.
package struct ClientRecord: Sendable, Equatable {
    /// The certificate CN this client presents.
    package var clientID: String
    /// Free text for operators.
    package var description: String
    /// Disabled clients are refused (403 `client_disabled`).
    package var enabled: Bool
    /// Granted endpoint names; `*` grants every endpoint.
    package var endpoints: [String]
    /// Allowed leaf certificate SHA-256 fingerprints (64 lower-case hex); empty = any.
    package var pinsSHA256: [String]
    /// Allowed issuing CA certificate SHA-256 fingerprints; empty = any configured CA.
    package var issuersSHA256: [String]
    /// Timestamps as PostgreSQL prints them (ISO 8601); nil when never set.
    package var createdAt: String
    package var updatedAt: String
    package var lastSeenAt: String?
    package var lastCertNotAfter: String?
    /// Connections open at once; nil: the receiver's `--client-max-connections`.
    package var maxConnections: Int? = nil
    /// Requests per second (token bucket) and its burst; nil rate: unlimited.
    package var ratePerSecond: Double? = nil
    package var burst: Int? = nil
    /// `signature_scheme` and `signature_mode`; nil: no signature check.
    package var signatureScheme: String? = nil
    package var signatureMode: String? = nil
    /// How many secrets the client has (the secrets themselves are never read back).
    package var signatureSecretCount = 0
}

/// The `webhookd clients …` operations on the `clients` table. Every value travels as a bound parameter.
package struct ClientRegistry {
    private let connection: PGConnection

    /// Uses `connection` for every operation.
    package init(connection: PGConnection) {
        self.connection = connection
    }

    /// Registers a new client.
    /// - Throws: `RegistryError.invalidInput` for a bad id, endpoint or fingerprint;
    ///   `.alreadyExists` when the id is taken.
    package func add(
        clientID: String, endpoints: [String], description: String, pins: [String], issuers: [String]
    ) throws(RegistryError) -> ClientRecord {
        let id = try ClientValidation.clientID(clientID)
        let endpoints = try ClientValidation.endpoints(endpoints)
        let pins = try pins.map { pin throws(RegistryError) in
            try ClientValidation.fingerprint(pin, flag: "--pin-sha256")
        }
        let issuers = try issuers.map { issuer throws(RegistryError) in
            try ClientValidation.fingerprint(issuer, flag: "--issuer-sha256")
        }
        do {
            let result = try connection.query(
                """
                INSERT INTO clients (client_id, description, endpoints, pins_sha256, issuers_sha256)
                VALUES ($1, $2, $3::text[], $4::text[], $5::text[])
                RETURNING \(Self.columns)
                """,
                [.text(id), .text(description), .textArray(endpoints), .textArray(pins), .textArray(issuers)])
            return Self.records(result)[0]
        } catch let error where error.sqlState == "23505" {
            throw RegistryError(
                .alreadyExists,
                "client \(id) already exists; use 'webhookd clients grant \(id) ENDPOINT' or 'webhookd clients enable \(id)' to change it"
            )
        } catch {
            throw RegistryError(database: error)
        }
    }

    /// The audit trail of `clientID` (`clients_audit`), newest first.
    /// - Throws: `.notFound` when the trail holds nothing for this id (never registered, or audited
    ///   rows removed by the table's owner).
    package func history(_ clientID: String) throws(RegistryError) -> [AuditEntry] {
        let result: PGResult
        do {
            // Changed columns are computed here, where both rows are jsonb; bookkeeping is left out.
            result = try connection.query(
                """
                SELECT a.id, to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), a.actor,
                       a.operation, a.client_id, a.old::text, a.new::text,
                       coalesce((SELECT array_agg(k.key ORDER BY k.key) FROM jsonb_object_keys(a.old || a.new) AS k(key)
                                 WHERE a.old -> k.key IS DISTINCT FROM a.new -> k.key
                                   AND k.key NOT IN ('updated_at', 'last_seen_at', 'last_cert_not_after')), '{}'),
                       coalesce((SELECT array_agg(coalesce(a.old -> k.key, 'null'::jsonb)::text ORDER BY k.key)
                                 FROM jsonb_object_keys(a.old || a.new) AS k(key)
                                 WHERE a.old -> k.key IS DISTINCT FROM a.new -> k.key
                                   AND k.key NOT IN ('updated_at', 'last_seen_at', 'last_cert_not_after')), '{}'),
                       coalesce((SELECT array_agg(coalesce(a.new -> k.key, 'null'::jsonb)::text ORDER BY k.key)
                                 FROM jsonb_object_keys(a.old || a.new) AS k(key)
                                 WHERE a.old -> k.key IS DISTINCT FROM a.new -> k.key
                                   AND k.key NOT IN ('updated_at', 'last_seen_at', 'last_cert_not_after')), '{}')
                FROM clients_audit AS a WHERE a.client_id = $1 ORDER BY a.id DESC
                """, [.text(clientID)])
        } catch {
            throw RegistryError(database: error)
        }
        guard result.rowCount > 0 else { throw RegistryError.notFound(clientID) }
        return (0..<result.rowCount).map { row in
            let columns = (result.textArray(row, 7) ?? []).map { $0 ?? "" }
            let olds = (result.textArray(row, 8) ?? []).map { $0 ?? "null" }
            let news = (result.textArray(row, 9) ?? []).map { $0 ?? "null" }
            return AuditEntry(
                id: Int(result.string(row, 0) ?? "") ?? 0, at: result.string(row, 1) ?? "",
                actor: result.string(row, 2) ?? "", operation: result.string(row, 3) ?? "",
                clientID: result.string(row, 4) ?? "", old: result.string(row, 5), new: result.string(row, 6),
                changes: columns.indices.map { (columns[$0], olds[$0], news[$0]) })
        }
    }

    /// Every client, ordered by id.
    package func list() throws(RegistryError) -> [ClientRecord] {
        do {
            return try Self.records(connection.query("SELECT \(Self.columns) FROM clients ORDER BY client_id"))
        } catch {
            throw RegistryError(database: error)
        }
    }

    /// One client.
    /// - Throws: `.notFound` when no client has this id.
    package func show(_ clientID: String) throws(RegistryError) -> ClientRecord {
        let records: [ClientRecord]
        do {
            records = try Self.records(
                connection.query("SELECT \(Self.columns) FROM clients WHERE client_id = $1", [.text(clientID)]))
        } catch {
            throw RegistryError(database: error)
        }
        guard let record = records.first else { throw RegistryError.notFound(clientID) }
        return record
    }

    /// Enables or disables a client.
    @discardableResult
    package func setEnabled(_ clientID: String, _ enabled: Bool) throws(RegistryError) -> ClientRecord {
        try update(
            clientID, "UPDATE clients SET enabled = $2 WHERE client_id = $1 RETURNING \(Self.columns)", [.bool(enabled)]
        )
    }

    /// Grants an endpoint (idempotent).
    @discardableResult
    package func grant(_ clientID: String, endpoint: String) throws(RegistryError) -> ClientRecord {
        let name = try ClientValidation.endpoint(endpoint)
        return try update(
            clientID,
            """
            UPDATE clients SET endpoints = CASE WHEN $2 = ANY(endpoints) THEN endpoints ELSE endpoints || $2 END
            WHERE client_id = $1 RETURNING \(Self.columns)
            """, [.text(name)])
    }

    /// Takes an endpoint grant away (idempotent).
    @discardableResult
    package func revokeEndpoint(_ clientID: String, endpoint: String) throws(RegistryError) -> ClientRecord {
        let name = try ClientValidation.endpoint(endpoint)
        return try update(
            clientID,
            "UPDATE clients SET endpoints = array_remove(endpoints, $2) WHERE client_id = $1 RETURNING \(Self.columns)",
            [.text(name)])
    }

    /// What `clients limit` changes: each field nil to leave it, `.some(nil)` to clear it.
    package struct Limits: Sendable {
        package var maxConnections: Int??
        package var ratePerSecond: Double??
        package var burst: Int??
        package init(maxConnections: Int?? = nil, ratePerSecond: Double?? = nil, burst: Int?? = nil) {
            self.maxConnections = maxConnections
            self.ratePerSecond = ratePerSecond
            self.burst = burst
        }
    }

    /// Sets a client's limits (`clients limit`); a running receiver applies them within a second.
    /// - Throws: `.invalidInput` for a value that is not positive, `.notFound` for an unknown client.
    package func setLimits(_ clientID: String, _ limits: Limits) throws(RegistryError) -> ClientRecord {
        if case .some(.some(let value)) = limits.maxConnections, value <= 0 {
            throw RegistryError(.invalidInput, "--connections must be a positive number or 'none'")
        }
        if case .some(.some(let value)) = limits.ratePerSecond, !(value > 0 && value.isFinite) {
            throw RegistryError(.invalidInput, "--rate must be a positive number or 'none'")
        }
        if case .some(.some(let value)) = limits.burst, value <= 0 {
            throw RegistryError(.invalidInput, "--burst must be a positive number")
        }
        // $2/$4/$6 say whether to change the column; $3/$5/$7 are the new values (NULL clears).
        return try update(
            clientID,
            """
            UPDATE clients SET
                max_connections = CASE WHEN $2::boolean THEN $3::integer ELSE max_connections END,
                rate_per_second = CASE WHEN $4::boolean THEN $5::double precision ELSE rate_per_second END,
                burst = CASE WHEN $6::boolean THEN $7::integer ELSE burst END
            WHERE client_id = $1 RETURNING \(Self.columns)
            """,
            [
                .text(limits.maxConnections == nil ? "false" : "true"),
                .optional(limits.maxConnections.flatMap { $0 }.map(String.init)),
                .text(limits.ratePerSecond == nil ? "false" : "true"),
                .optional(limits.ratePerSecond.flatMap { $0 }.map { String($0) }),
                .text(limits.burst == nil ? "false" : "true"),
                .optional(limits.burst.flatMap { $0 }.map(String.init)),
            ])
    }

    /// Sets a client's signature scheme, mode and secrets (replacing the previous ones), or with `scheme` nil
    /// turns signatures off and deletes the secrets. One transaction; a running receiver applies it within a
    /// second (both tables notify).
    /// - Throws: `.invalidInput` for a scheme without secrets, `.notFound` for an unknown client.
    package func setSignature(
        _ clientID: String, scheme: SignatureScheme?, mode: SignatureMode, secrets: [[UInt8]]
    ) throws(RegistryError) -> ClientRecord {
        if scheme != nil, secrets.isEmpty || secrets.contains(where: \.isEmpty) {
            throw RegistryError(.invalidInput, "--secret-file: give at least one non-empty secret")
        }
        do {
            try connection.query("BEGIN")
            let updated = try connection.query(
                "UPDATE clients SET signature_scheme = $2, signature_mode = $3 WHERE client_id = $1",
                [.text(clientID), .optional(scheme?.rawValue), .optional(scheme == nil ? nil : mode.rawValue)])
            guard updated.affectedRows == 1 else {
                try connection.query("ROLLBACK")
                throw RegistryError.notFound(clientID)
            }
            try connection.query("DELETE FROM client_signature_secrets WHERE client_id = $1", [.text(clientID)])
            if scheme != nil {
                // One statement for all secrets, so the audit trail records the rotation as one change.
                var array = PGBinaryArray(of: .bytea, reservingBytes: secrets.reduce(0) { $0 + $1.count + 4 })
                for secret in secrets { array.append(bytes: secret) }
                try connection.query(
                    """
                    INSERT INTO client_signature_secrets (client_id, position, secret)
                    SELECT $1, s.ordinality - 1, s.secret FROM unnest($2::bytea[]) WITH ORDINALITY AS s (secret, ordinality)
                    """,
                    [.text(clientID), .binaryArray(array)])
            }
            try connection.query("COMMIT")
        } catch let error as RegistryError {
            throw error
        } catch let error as PostgresError {
            // The session may be in a failed transaction: end it (a failure here changes nothing more).
            _ = try? connection.query("ROLLBACK")
            throw RegistryError(database: error)
        } catch {
            throw RegistryError(.database, "\(error)")
        }
        return try show(clientID)
    }

    /// Deletes a client. Its deliveries stay.
    package func remove(_ clientID: String) throws(RegistryError) {
        let result: PGResult
        do {
            result = try connection.query("DELETE FROM clients WHERE client_id = $1", [.text(clientID)])
        } catch {
            throw RegistryError(database: error)
        }
        if result.affectedRows == 0 { throw RegistryError.notFound(clientID) }
    }

    private func update(_ clientID: String, _ sql: String, _ extra: [PGValue]) throws(RegistryError) -> ClientRecord {
        let records: [ClientRecord]
        do {
            records = try Self.records(connection.query(sql, [.text(clientID)] + extra))
        } catch {
            throw RegistryError(database: error)
        }
        guard let record = records.first else { throw RegistryError.notFound(clientID) }
        return record
    }

    static let columns = """
        client_id, description, enabled, endpoints, pins_sha256, issuers_sha256, \
        to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), \
        to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), \
        to_char(last_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), \
        to_char(last_cert_not_after AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), \
        max_connections, rate_per_second, burst, signature_scheme, signature_mode, \
        (SELECT count(*) FROM client_signature_secrets AS s WHERE s.client_id = clients.client_id)::integer
        """

    static func records(_ result: PGResult) -> [ClientRecord] {
        (0..<result.rowCount).map { row in
            ClientRecord(
                clientID: result.string(row, 0) ?? "",
                description: result.string(row, 1) ?? "",
                enabled: result.bool(row, 2) ?? false,
                endpoints: (result.textArray(row, 3) ?? []).compactMap { $0 },
                pinsSHA256: (result.textArray(row, 4) ?? []).compactMap { $0 },
                issuersSHA256: (result.textArray(row, 5) ?? []).compactMap { $0 },
                createdAt: result.string(row, 6) ?? "",
                updatedAt: result.string(row, 7) ?? "",
                lastSeenAt: result.string(row, 8),
                lastCertNotAfter: result.string(row, 9),
                maxConnections: result.int(row, 10), ratePerSecond: result.string(row, 11).flatMap(Double.init),
                burst: result.int(row, 12), signatureScheme: result.string(row, 13),
                signatureMode: result.string(row, 14), signatureSecretCount: result.int(row, 15) ?? 0)
        }
    }
}

/// What `ClientRegistry` reports: invalid input, a missing or duplicate client, or a database failure.
package struct RegistryError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; open for additions.
    package struct Code: Hashable, Sendable {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// A client id, endpoint name or fingerprint does not have the required form.
        package static let invalidInput = Code("invalid input")
        /// No client has this id.
        package static let notFound = Code("not found")
        /// A client with this id already exists.
        package static let alreadyExists = Code("already exists")
        /// The database failed.
        package static let database = Code("database")
    }

    package var code: Code
    package var message: String
    /// The underlying database error, when there is one.
    package var underlying: PostgresError?

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    init(database error: PostgresError) {
        self.code = .database
        self.message = error.isMissingTable ? Self.notMigrated : error.message
        self.underlying = error
    }

    /// What a command says when the database has no webhookd tables yet.
    package static let notMigrated = "the database has no webhookd tables yet; run 'webhookd migrate' first"

    static func notFound(_ clientID: String) -> RegistryError {
        RegistryError(.notFound, "no client named \(clientID); 'webhookd clients list' shows the registered ones")
    }

    package var description: String { message }
}

/// The rules for client ids, endpoint names and fingerprints (SPEC).
package enum ClientValidation {
    /// A client id is the certificate CN: 1–255 bytes of UTF-8 without control characters.
    package static func clientID(_ id: String) throws(RegistryError) -> String {
        guard !id.isEmpty, id.utf8.count <= 255 else {
            throw RegistryError(.invalidInput, "client id must be 1 to 255 bytes long")
        }
        guard !id.unicodeScalars.contains(where: JSONString.isControl) else {
            throw RegistryError(.invalidInput, "client id must not contain control characters")
        }
        return id
    }

    /// An endpoint grant: a name matching `[A-Za-z0-9._-]{1,64}`, or `*` for every endpoint.
    package static func endpoint(_ name: String) throws(RegistryError) -> String {
        guard name == "*" || EndpointName.isValid(name) else {
            throw RegistryError(
                .invalidInput, "endpoint '\(name)' is not valid: use 1 to 64 of A-Z a-z 0-9 . _ - (or '*' for all)")
        }
        return name
    }

    /// Validated endpoint grants, duplicates removed, order kept.
    package static func endpoints(_ names: [String]) throws(RegistryError) -> [String] {
        var seen: [String] = []
        for name in names where !seen.contains(name) {
            seen.append(try endpoint(name))
        }
        return seen
    }

    /// A SHA-256 fingerprint normalised to 64 lower-case hex digits (colons and upper case accepted).
    package static func fingerprint(_ text: String, flag: String) throws(RegistryError) -> String {
        let hex = String(text.unicodeScalars.filter { $0 != ":" }).lowercased()
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else {
            throw RegistryError(.invalidInput, "\(flag) '\(text)' is not a SHA-256 fingerprint (64 hex digits)")
        }
        return hex
    }
}
