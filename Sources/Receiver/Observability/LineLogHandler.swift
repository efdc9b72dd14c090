import Glibc
import HTTP1
package import Logging
import Synchronization

/// `--log-format text|json`: one line per event on stderr, metadata as `key=value` pairs or JSON
/// fields. Lines are written whole with one write(2), so threads never interleave.
package struct LineLogHandler: LogHandler {
    package enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    package var logLevel: Logger.Level = .info
    package var metadata: Logger.Metadata = [:]
    private let label: String
    private let format: Format
    private let descriptor: Int32

    package init(label: String, format: Format, descriptor: Int32 = 2) {
        self.label = label
        self.format = format
        self.descriptor = descriptor
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        let line: String
        switch format {
        case .text:
            var text = "\(Self.timestamp()) \(event.level) \(Self.textMessage("\(event.message)"))"
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
                text += " \(key)=\(Self.textValue("\(value)"))"
            }
            line = text + "\n"
        case .json:
            var text = "{\"ts\":\(JSONString.quoted(Self.timestamp())),\"level\":\(JSONString.quoted("\(event.level)"))"
            text += ",\"msg\":\(JSONString.quoted("\(event.message)"))"
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
                text += ",\(JSONString.quoted(key)):\(JSONString.quoted("\(value)"))"
            }
            line = text + "}\n"
        }
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer in
                write(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
        bytes.removeAll()
    }

    /// A text-format value: quoted and escaped when it holds a space, `"`, `=`, `\` or any control
    /// character (C0, DEL, C1), so a line stays machine-splittable and a value (a CN, a peer's bytes)
    /// can never end a line or forge another.
    package static func textValue(_ value: String) -> String {
        let plain =
            !value.isEmpty
            && !value.unicodeScalars.contains {
                $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || JSONString.isControl($0)
            }
        return plain ? value : JSONString.quoted(value)
    }

    /// The message as is, unless it holds a control character: then escaped like a value.
    static func textMessage(_ message: String) -> String {
        message.unicodeScalars.contains(where: JSONString.isControl) ? JSONString.quoted(message) : message
    }

    /// ISO 8601 UTC with milliseconds.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = spec.tv_nsec / 1_000_000
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }
}

/// Installs the process-wide log handler once.
package enum LogSetup {
    private static let bootstrapped = Mutex(false)

    /// Bootstraps swift-log with `LineLogHandler` in `format` (first call wins).
    package static func bootstrap(format: LineLogHandler.Format, level: Logger.Level = .info) {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, format: format)
            handler.logLevel = level
            return handler
        }
    }
}
