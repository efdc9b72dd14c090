import Bytes
import HTTP1

// How `webhookd deliveries list`, `show` and `tail` print what `DeliveryQueries` read.

extension DeliverySummary {
    /// One line for `deliveries tail`: received_at, id, client, endpoint, bytes, content type and
    /// idempotency key, two spaces apart, `-` for an absent value.
    package var line: String {
        cells.joined(separator: "  ")
    }

    private var cells: [String] {
        [
            receivedAt, id, clientID, endpoint, String(bodyBytes), Self.cell(contentType),
            Self.cell(idempotencyKey),
        ]
    }

    private static func cell(_ value: String?) -> String {
        guard let value, !value.isEmpty else { return "-" }
        return value
    }

    /// An aligned table for `deliveries list`, with a header line; the tail line's columns.
    package static func table(_ deliveries: [DeliverySummary]) -> String {
        TextTable.render(
            header: ["RECEIVED_AT", "ID", "CLIENT", "ENDPOINT", "BYTES", "CONTENT_TYPE", "IDEMPOTENCY_KEY"],
            rows: deliveries.map(\.cells))
    }

    /// One compact JSON object with SPEC's column names; `body_json` is the database's own jsonb text,
    /// so numbers keep every digit.
    package var json: JSONObject {
        var object = JSONObject()
        object.add("id", id)
        object.add("received_at", receivedAt)
        object.add("client_id", clientID)
        object.add("endpoint", endpoint)
        object.add("method", method)
        object.add("path", path)
        object.add("query", query)
        object.add("content_type", contentType)
        object.add("body_bytes", bodyBytes)
        object.add("body_sha256", bodySHA256)
        object.add("idempotency_key", idempotencyKey)
        object.add("processing_state", processingState)
        object.add("body_json", json: bodyJSON)
        return object
    }

    /// `deliveries list --json`: a pretty-printed array of `json` objects.
    package static func json(_ deliveries: [DeliverySummary]) -> String {
        JSONObject.pretty(deliveries.map(\.json))
    }
}

extension DeliveryDetail {
    /// `deliveries show`: `key: value` metadata lines, the headers, then the body — pretty-printed
    /// when it is JSON, as text when it is printable UTF-8, else as a hex dump.
    package var text: String {
        let summary = summary
        var lines = [
            "id: \(summary.id)",
            "received_at: \(summary.receivedAt)",
            "client_id: \(summary.clientID)",
            "endpoint: \(summary.endpoint)",
            "request: \(summary.method) \(summary.path)\(summary.query.map { "?" + $0 } ?? "")",
            "content_type: \(summary.contentType ?? "-")",
            "body_bytes: \(summary.bodyBytes)",
            "body_sha256: \(summary.bodySHA256)",
            "idempotency_key: \(summary.idempotencyKey ?? "-")",
            "processing_state: \(summary.processingState)",
        ]
        if let claimedAt { lines.append("claimed_at: \(claimedAt)") }
        if let processedAt { lines.append("processed_at: \(processedAt)") }
        lines += [
            "cert_subject: \(certSubject ?? "-")",
            "cert_issuer: \(certIssuer ?? "-")",
            "cert_serial: \(certSerial ?? "-")",
            "cert_sha256: \(certSHA256 ?? "-")",
            "cert_not_after: \(certNotAfter ?? "-")",
            "remote_addr: \(remoteAddress ?? "-")",
            "tls: \(tlsVersion ?? "-") \(tlsCipher ?? "-")",
            "",
            "headers (\(headers.count)):",
        ]
        // Header values passed the HTTP parser; shown escaped anyway if they hold control characters.
        lines += headers.map {
            "  \($0.name): \(BodyText.isDisplayable(Array($0.value.utf8)) ? $0.value : JSONString.quoted($0.value))"
        }
        lines.append("")
        if body.isEmpty {
            lines.append("body: (empty)")
        } else if summary.bodyJSON != nil {
            lines.append("body (\(body.count) bytes, JSON):")
            lines.append(BodyText.prettyJSON(body))
        } else if BodyText.isDisplayable(body) {
            lines.append("body (\(body.count) bytes, text):")
            lines.append(String(decoding: body, as: UTF8.self))
        } else {
            lines.append("body (\(body.count) bytes, binary):")
            lines.append(BodyText.hexDump(body))
        }
        return lines.joined(separator: "\n")
    }
}

/// Turning body bytes into something a terminal can show safely.
package enum BodyText {
    /// True when `bytes` is valid UTF-8 without control characters other than tab, CR and LF: text
    /// that cannot move the cursor, change colours or ring the bell when printed (C1 controls and
    /// escape sequences make a body "binary").
    package static func isDisplayable(_ bytes: [UInt8]) -> Bool {
        UTF8Scalars.all(bytes) { scalar in
            let value = scalar.value
            return value == 0x09 || value == 0x0A || value == 0x0D || !JSONString.isControl(scalar)
        }
    }

    /// Re-indents valid JSON text with two spaces per level, one member or element per line, keeping
    /// the sender's member order, duplicate keys and number spelling (a parse and re-serialise would
    /// lose all three). Text outside strings is only re-spaced; strings are copied byte for byte.
    package static func prettyJSON(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 2)
        var depth = 0
        var index = 0
        func newline() {
            output.append(0x0A)
            output.append(contentsOf: repeatElement(0x20, count: depth * 2))
        }
        func nextSignificant(after position: Int) -> UInt8? {
            var cursor = position + 1
            while cursor < bytes.count, isWhitespace(bytes[cursor]) { cursor += 1 }
            return cursor < bytes.count ? bytes[cursor] : nil
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                // Strings are copied byte for byte, except DEL and the C1 controls (legal unescaped in JSON,
                // acted on by terminals), which are shown as the escapes they are equal to.
                output.append(byte)
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    let current = bytes[index]
                    if current == UInt8(ascii: "\\") {
                        output.append(contentsOf: bytes[index..<min(index + 2, bytes.count)])
                        index += 2
                    } else if current == 0x7F {
                        output.append(contentsOf: Array(#"\u007f"#.utf8))
                        index += 1
                    } else if current == 0xC2, index + 1 < bytes.count, (0x80...0x9F).contains(bytes[index + 1]) {
                        output.append(contentsOf: Array(#"\u00"#.utf8))
                        output.append(contentsOf: Array(Hex.string([bytes[index + 1]]).utf8))
                        index += 2
                    } else {
                        output.append(current)
                        index += 1
                    }
                }
                if index < bytes.count { output.append(bytes[index]) }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                output.append(byte)
                let close = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if nextSignificant(after: index) == close {
                    // `{}` and `[]` stay on one line.
                    output.append(close)
                    while index + 1 < bytes.count, bytes[index + 1] != close { index += 1 }
                    index += 1
                } else {
                    depth += 1
                    newline()
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth = max(0, depth - 1)
                newline()
                output.append(byte)
            case UInt8(ascii: ","):
                output.append(byte)
                newline()
            case UInt8(ascii: ":"):
                output.append(contentsOf: [byte, 0x20])
            default:
                if !isWhitespace(byte) { output.append(byte) }
            }
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// `hexdump -C` style: offset, 16 bytes in hex (a gap after 8), and the printable ASCII ones
    /// between bars (`.` for the rest).
    package static func hexDump(_ bytes: [UInt8]) -> String {
        var lines: [String] = []
        for offset in stride(from: 0, to: bytes.count, by: 16) {
            let row = bytes[offset..<min(offset + 16, bytes.count)]
            var hexColumn = ""
            for (position, byte) in row.enumerated() {
                hexColumn += Hex.string(UInt64(byte), width: 2) + (position == 7 ? "  " : " ")
            }
            let padded = hexColumn.padding(toWidth: 16 * 3 + 2)
            let ascii = String(
                decoding: row.map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
            lines.append("\(Hex.string(UInt64(offset), width: 8))  \(padded)|\(ascii)|")
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    /// The string with spaces added up to `width` characters.
    fileprivate func padding(toWidth width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
