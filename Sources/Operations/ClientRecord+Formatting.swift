import Foundation

extension ClientRecord {
    /// A JSON object with SPEC's column names, in column order, for `--json` output.
    package var jsonObject: JSONObject {
        var object = JSONObject()
        object.add("client_id", clientID)
        object.add("description", description)
        object.add("enabled", enabled)
        object.add("endpoints", endpoints)
        object.add("pins_sha256", pinsSHA256)
        object.add("issuers_sha256", issuersSHA256)
        object.add("created_at", createdAt)
        object.add("updated_at", updatedAt)
        object.add("last_seen_at", lastSeenAt)
        object.add("last_cert_not_after", lastCertNotAfter)
        object.add("max_connections", json: maxConnections.map(String.init))
        object.add("rate_per_second", json: ratePerSecond.map { String($0) })
        object.add("burst", json: burst.map(String.init))
        object.add("signature_scheme", signatureScheme)
        object.add("signature_mode", signatureMode)
        object.add("signature_secrets", json: String(signatureSecretCount))
        return object
    }

    /// `key: value` lines for `clients show`.
    package var detailLines: [String] {
        [
            "client_id: \(clientID)",
            "description: \(description)",
            "enabled: \(enabled)",
            "endpoints: \(endpoints.isEmpty ? "(none)" : endpoints.joined(separator: ","))",
            "pins_sha256: \(pinsSHA256.isEmpty ? "(any)" : pinsSHA256.joined(separator: ","))",
            "issuers_sha256: \(issuersSHA256.isEmpty ? "(any configured CA)" : issuersSHA256.joined(separator: ","))",
            "created_at: \(createdAt)",
            "updated_at: \(updatedAt)",
            "last_seen_at: \(lastSeenAt ?? "never")",
            "last_cert_not_after: \(lastCertNotAfter ?? "unknown")",
            "max_connections: \(maxConnections.map(String.init) ?? "default (--client-max-connections)")",
            "rate_per_second: \(ratePerSecond.map { Self.number($0) } ?? "unlimited")",
            "burst: \(burst.map(String.init) ?? (ratePerSecond == nil ? "-" : "default (the rate, at least 1)"))",
            "signature: \(signatureScheme.map { "\($0) \(signatureMode ?? "required"), \(signatureSecretCount) secret(s)" } ?? "off")",
        ]
    }

    /// A rate as people write it: `5` rather than `5.0`, `0.5` as is.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// `clients list`'s RATE cell: `5/s`, with ` +B` for an explicit burst; `-` when unlimited.
    static func rateCell(_ record: ClientRecord) -> String {
        guard let rate = record.ratePerSecond else { return "-" }
        return "\(number(rate))/s" + (record.burst.map { " +\($0)" } ?? "")
    }

    /// An aligned table of clients for `clients list`.
    package static func table(_ records: [ClientRecord]) -> String {
        let header = ["CLIENT", "ENABLED", "ENDPOINTS", "PINS", "ISSUERS", "CONNS", "RATE", "LAST SEEN", "DESCRIPTION"]
        let rows = records.map { record in
            [
                record.clientID, record.enabled ? "yes" : "no",
                record.endpoints.isEmpty ? "-" : record.endpoints.joined(separator: ","),
                String(record.pinsSHA256.count), String(record.issuersSHA256.count),
                record.maxConnections.map(String.init) ?? "default",
                rateCell(record),
                record.lastSeenAt ?? "never",
                record.description,
            ]
        }
        return TextTable.render(header: header, rows: rows)
    }

    /// `clients list --json`.
    package static func json(_ records: [ClientRecord]) -> String {
        JSONObject.pretty(records.map(\.jsonObject))
    }
}

/// Plain-text tables and JSON for command output.
package enum TextTable {
    /// Columns padded to their widest cell, two spaces apart; the last column is not padded.
    package static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        var widths = Array(repeating: 0, count: header.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}
