/// The samples of a Prometheus text exposition (format 0.0.4), keyed by series with labels sorted by
/// name, e.g. `webhookd_handshakes_total{reason="no_certificate",result="refused"}`, so tests do not
/// depend on the order a library writes labels in. Comment lines (`# HELP`, `# TYPE`) are skipped.
package struct PrometheusSamples: Sendable {
    /// Series key → value.
    package let values: [String: Double]

    /// Parses `text`; a line that is not a valid sample makes it throw, naming the line.
    package init(parsing text: String) throws {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.allSatisfy({ $0 == " " }) {
            let (key, rest) = try Self.parseSeries(Substring(line))
            let valueText = rest.split(separator: " ").first.map(String.init) ?? ""
            guard let value = Double(valueText) ?? Self.special(valueText) else {
                throw Failure(description: "bad sample value in: \(line)")
            }
            values[key] = value
        }
        self.values = values
    }

    /// The value of `name` with exactly `labels` (any order), or nil when the series is absent.
    package func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        values[Self.key(name, labels)]
    }

    /// The series of `name` (with any labels), by their sorted label sets.
    package func series(_ name: String) -> [String: Double] {
        values.filter { $0.key == name || $0.key.hasPrefix(name + "{") }
    }

    /// The canonical key for `name` and `labels`.
    package static func key(_ name: String, _ labels: [String: String]) -> String {
        guard !labels.isEmpty else { return name }
        let rendered = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(escape($0.value))\"" }
        return name + "{" + rendered.joined(separator: ",") + "}"
    }

    /// A parse failure.
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    private static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    private static func special(_ text: String) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return nil
        }
    }

    /// Splits `name{labels} value` into the canonical key and the text after the series.
    private static func parseSeries(_ line: Substring) throws -> (String, Substring) {
        guard let end = line.firstIndex(where: { $0 == "{" || $0 == " " }) else {
            throw Failure(description: "no value in: \(line)")
        }
        let name = String(line[..<end])
        guard line[end] == "{" else { return (name, line[line.index(after: end)...]) }
        var labels: [String: String] = [:]
        var index = line.index(after: end)
        while index < line.endIndex && line[index] != "}" {
            guard let equals = line[index...].firstIndex(of: "=") else {
                throw Failure(description: "bad labels: \(line)")
            }
            let labelName = String(line[index..<equals]).trimmingLeadingCommas()
            index = line.index(after: equals)
            guard index < line.endIndex, line[index] == "\"" else { throw Failure(description: "bad labels: \(line)") }
            index = line.index(after: index)
            var value = ""
            while index < line.endIndex && line[index] != "\"" {
                if line[index] == "\\" {
                    index = line.index(after: index)
                    guard index < line.endIndex else { break }
                    value.append(line[index] == "n" ? "\n" : line[index])
                } else {
                    value.append(line[index])
                }
                index = line.index(after: index)
            }
            guard index < line.endIndex else { throw Failure(description: "unterminated label value: \(line)") }
            index = line.index(after: index)  // the closing quote
            if index < line.endIndex && line[index] == "," { index = line.index(after: index) }
            labels[labelName] = value
        }
        guard index < line.endIndex else { throw Failure(description: "unterminated labels: \(line)") }
        let rest = line[line.index(after: index)...].drop { $0 == " " }
        return (key(name, labels), rest)
    }
}

extension String {
    fileprivate func trimmingLeadingCommas() -> String {
        String(drop { $0 == "," || $0 == " " })
    }
}
