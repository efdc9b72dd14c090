import Foundation
import Glibc
import Logging
import Receiver
import Testing

/// Log lines a person or a script can trust: one event per line, whatever a value holds.
@Suite("Log lines")
struct LogLineTests {
    @Test(arguments: [
        ("acme", "acme"), ("two words", #""two words""#), ("a=b", #""a=b""#), (#"q"x"#, #""q\"x""#),
        ("", #""""#), ("cn\r\nlevel=critical forged", #""cn\r\nlevel=critical forged""#),
        ("tab\there", #""tab\there""#), ("del\u{7F}", #""del\u007f""#), ("nel\u{85}", #""nel\u0085""#),
        ("esc\u{1B}[31m", #""esc\u001b[31m""#), (#"back\slash"#, #""back\\slash""#), ("café", "café"),
    ])
    func textValuesWithControlsSpacesQuotesOrEqualsAreQuotedAndEscaped(value: String, expected: String) {
        #expect(LineLogHandler.textValue(value) == expected)
    }

    @Test func aValueWithANewlineStaysOnItsLine() throws {
        var pipe: [Int32] = [0, 0]
        #expect(Glibc.pipe(&pipe) == 0)
        defer { close(pipe[0]) }
        var handler = LineLogHandler(label: "test", format: .text, descriptor: pipe[1])
        handler.logLevel = .info
        let logger = Logger(label: "test") { _ in handler }
        logger.info("handshake refused", metadata: ["client": "evil\nts=0 level=critical msg=forged"])
        close(pipe[1])
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let count = read(pipe[0], &buffer, buffer.count)
        let text = String(decoding: buffer[0..<max(0, count)], as: UTF8.self)
        #expect(text.filter { $0 == "\n" }.count == 1)
        #expect(text.contains(#"client="evil\nts=0 level=critical msg=forged""#))
    }
}
