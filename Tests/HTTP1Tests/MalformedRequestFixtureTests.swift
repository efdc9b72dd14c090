import HTTP1
import Testing

/// A malformed (or oversized) input and the status it must fail with however it is split.
struct MalformedFixture: Sendable, CustomTestStringConvertible {
    /// What is wrong, as the test case's name.
    let name: String
    /// The raw input.
    let bytes: [UInt8]
    /// The status the parser must fail with.
    let status: Int
    /// Events that legitimately come before the failure (a head before a broken chunked body).
    let eventsBeforeError: [HTTPParserEvent]

    /// A fixture from raw bytes.
    init(_ name: String, _ bytes: [UInt8], status: Int = 400, before eventsBeforeError: [HTTPParserEvent] = []) {
        self.name = name
        self.bytes = bytes
        self.status = status
        self.eventsBeforeError = eventsBeforeError
    }

    /// A fixture from text, sent as UTF-8.
    init(_ name: String, _ text: String, status: Int = 400, before eventsBeforeError: [HTTPParserEvent] = []) {
        self.init(name, Array(text.utf8), status: status, before: eventsBeforeError)
    }

    /// The fixture's name and status in test output.
    var testDescription: String { "\(name) → \(status)" }

    /// The head every chunked fixture starts with.
    static let chunkedHead = head("POST", "/w", [("Host", "x"), ("Transfer-Encoding", "chunked")], framing: .chunked)
    /// The bytes of `chunkedHead`.
    static let chunkedPrefix = "POST /w HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

    /// Every malformed fixture.
    static let all: [MalformedFixture] = framing + chunked + lines + requestLine + limits

    /// Conflicting or unsupported body framing and Host rules.
    static let framing: [MalformedFixture] = [
        .init(
            "Content-Length with Transfer-Encoding",
            request(
                "POST /w HTTP/1.1", "Host: x", "Content-Length: 5", "Transfer-Encoding: chunked", body: "0\r\n\r\n")),
        .init(
            "Transfer-Encoding before Content-Length",
            request(
                "POST /w HTTP/1.1", "Host: x", "Transfer-Encoding: chunked", "Content-Length: 5", body: "0\r\n\r\n")),
        .init(
            "differing duplicate Content-Length",
            request(
                "POST /w HTTP/1.1", "Host: x", "Content-Length: 5", "Content-Length: 6", body: "hello")),
        .init(
            "differing values in one Content-Length list",
            request(
                "POST /w HTTP/1.1", "Host: x", "Content-Length: 5, 6", body: "hello")),
        .init("non-digit Content-Length", request("POST /w HTTP/1.1", "Host: x", "Content-Length: abc")),
        .init("signed Content-Length", request("POST /w HTTP/1.1", "Host: x", "Content-Length: +5", body: "hello")),
        .init("negative Content-Length", request("POST /w HTTP/1.1", "Host: x", "Content-Length: -1")),
        .init("hex Content-Length", request("POST /w HTTP/1.1", "Host: x", "Content-Length: 0x5")),
        .init("Content-Length with inner space", request("POST /w HTTP/1.1", "Host: x", "Content-Length: 1 2")),
        .init("empty Content-Length", request("POST /w HTTP/1.1", "Host: x", "Content-Length:")),
        .init(
            "Content-Length list with an empty element",
            request(
                "POST /w HTTP/1.1", "Host: x", "Content-Length: 5,", body: "hello")),
        .init(
            "Content-Length beyond Int.max",
            request(
                "POST /w HTTP/1.1", "Host: x", "Content-Length: 9223372036854775808")),
        .init(
            "Content-Length of twenty digits",
            request(
                "POST /w HTTP/1.1", "Host: x", "Content-Length: 99999999999999999999")),
        .init("Transfer-Encoding gzip", request("POST /w HTTP/1.1", "Host: x", "Transfer-Encoding: gzip")),
        .init(
            "Transfer-Encoding chunked twice in a list",
            request(
                "POST /w HTTP/1.1", "Host: x", "Transfer-Encoding: chunked, chunked", body: "0\r\n\r\n")),
        .init(
            "Transfer-Encoding chunked in two headers",
            request(
                "POST /w HTTP/1.1", "Host: x", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked",
                body: "0\r\n\r\n")),
        .init(
            "Transfer-Encoding with chunked not last",
            request(
                "POST /w HTTP/1.1", "Host: x", "Transfer-Encoding: chunked, gzip", body: "0\r\n\r\n")),
        .init(
            "Transfer-Encoding gzip then chunked",
            request(
                "POST /w HTTP/1.1", "Host: x", "Transfer-Encoding: gzip, chunked", body: "0\r\n\r\n")),
        .init(
            "Transfer-Encoding with a trailing comma",
            request(
                "POST /w HTTP/1.1", "Host: x", "Transfer-Encoding: chunked,", body: "0\r\n\r\n")),
        .init(
            "Transfer-Encoding in HTTP/1.0",
            request(
                "POST /w HTTP/1.0", "Transfer-Encoding: chunked", body: "0\r\n\r\n")),
        .init("HTTP/1.1 without Host", request("GET / HTTP/1.1", "Accept: */*")),
        .init("two Host headers", request("GET / HTTP/1.1", "Host: a", "Host: b")),
    ]

    /// Broken chunked bodies and trailers.
    static let chunked: [MalformedFixture] = [
        .init("non-hex chunk size", chunkedPrefix + "zz\r\n", before: [chunkedHead]),
        .init("empty chunk size", chunkedPrefix + "\r\nhello\r\n0\r\n\r\n", before: [chunkedHead]),
        .init("negative chunk size", chunkedPrefix + "-1\r\n", before: [chunkedHead]),
        .init("chunk size that overflows", chunkedPrefix + "10000000000000000\r\n", before: [chunkedHead]),
        .init("chunk size with 0x prefix", chunkedPrefix + "0x5\r\nhello\r\n0\r\n\r\n", before: [chunkedHead]),
        .init(
            "chunk size followed by whitespace only", chunkedPrefix + "5 \r\nhello\r\n0\r\n\r\n", before: [chunkedHead]),
        .init("chunk size followed by garbage", chunkedPrefix + "5x\r\nhello\r\n0\r\n\r\n", before: [chunkedHead]),
        .init(
            "chunk extension with a control byte", chunkedPrefix + "5;a\u{01}\r\nhello\r\n0\r\n\r\n",
            before: [chunkedHead]),
        .init(
            "chunk size line longer than 4 KiB",
            chunkedPrefix + "5;" + String(repeating: "e", count: 4_100) + "\r\nhello\r\n0\r\n\r\n",
            before: [chunkedHead]),
        .init(
            "chunk data longer than its size", chunkedPrefix + "5\r\nhelloX\r\n0\r\n\r\n",
            before: [chunkedHead, body("hello")]),
        .init(
            "chunk data followed by bare LF", chunkedPrefix + "5\r\nhello\n0\r\n\r\n",
            before: [chunkedHead, body("hello")]),
        .init(
            "chunk data followed by CR and garbage", chunkedPrefix + "5\r\nhello\rX0\r\n\r\n",
            before: [chunkedHead, body("hello")]),
        .init("chunk size line ending in bare LF", chunkedPrefix + "5\nhello\r\n0\r\n\r\n", before: [chunkedHead]),
        .init("malformed trailer field", chunkedPrefix + "0\r\nBad Trailer: x\r\n\r\n", before: [chunkedHead]),
        .init("trailer with obsolete folding", chunkedPrefix + "0\r\nX-T: a\r\n b\r\n\r\n", before: [chunkedHead]),
        .init(
            "trailer section over 16 KiB",
            chunkedPrefix + "0\r\nX-T: " + String(repeating: "t", count: 16_400) + "\r\n\r\n",
            status: 431, before: [chunkedHead]),
        .init(
            "101 trailer fields",
            chunkedPrefix + "0\r\n" + String(repeating: "X-T: t\r\n", count: 101) + "\r\n",
            status: 431, before: [chunkedHead]),
    ]

    /// Broken header lines and line endings.
    static let lines: [MalformedFixture] = [
        .init("obsolete line folding", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n"),
        .init("obsolete folding with a tab", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tcontinued\r\n\r\n"),
        .init("whitespace before the first header", "GET / HTTP/1.1\r\n Host: x\r\n\r\n"),
        .init("bare CR in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"),
        .init("bare CR in the request line", "GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n"),
        .init("bare CR before the final CRLF", "GET / HTTP/1.1\r\nHost: x\r\n\r\r\n"),
        .init("bare LF line endings", "GET / HTTP/1.1\nHost: x\n\n"),
        .init("bare LF ending a header line", "GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n"),
        .init("bare LF as the final empty line", "GET / HTTP/1.1\r\nHost: x\r\n\n"),
        .init("bare LF before the request line", "\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        .init("space before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n"),
        .init("tab before the colon", "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n"),
        .init("empty header name", "GET / HTTP/1.1\r\nHost: x\r\n: value\r\n\r\n"),
        .init("header line without a colon", "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"),
        .init("header name with a separator", "GET / HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n"),
        .init("NUL in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{00}b\r\n\r\n"),
        .init("control byte in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{01}b\r\n\r\n"),
        .init("DEL in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{7F}b\r\n\r\n"),
        .init("vertical tab in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{0B}b\r\n\r\n"),
    ]

    /// Broken request lines and versions.
    static let requestLine: [MalformedFixture] = [
        .init("HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n"),
        .init("HTTP/2.0 is not supported", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", status: 505),
        .init("HTTP/0.9 is not supported", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", status: 505),
        .init("lower-case protocol name", "GET / http/1.1\r\nHost: x\r\n\r\n"),
        .init("version with two minor digits", "GET / HTTP/1.10\r\nHost: x\r\n\r\n"),
        .init("version without a minor", "GET / HTTP/1\r\nHost: x\r\n\r\n"),
        .init("no version", "GET /\r\nHost: x\r\n\r\n"),
        .init("trailing space after the version", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n"),
        .init("two spaces after the method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n"),
        .init("leading space before the method", " GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        .init("method with a separator", "GE(T / HTTP/1.1\r\nHost: x\r\n\r\n"),
        .init("tab in the target", "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n"),
        .init("space inside the target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"),
        .init(
            "non-ASCII byte in the target",
            Array("GET /caf".utf8) + [0xC3, 0xA9] + Array(" HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
        .init(
            "TLS ClientHello on a plain listener",
            [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]
                + Array("\r\n\r\n".utf8)),
    ]

    /// Heads over 16 KiB or 100 fields.
    static let limits: [MalformedFixture] = [
        .init(
            "101 header fields",
            requestBytes(["GET / HTTP/1.1", "Host: x"] + (1...100).map { "X-\($0): v" }), status: 431),
        .init(
            "101 header fields without the final empty line",
            Array((["GET / HTTP/1.1", "Host: x"] + (1...100).map { "X-\($0): v" }).joined(separator: "\r\n").utf8)
                + Array("\r\n".utf8), status: 431),
        .init(
            "17 KiB head", request("GET / HTTP/1.1", "Host: x", "X-Big: " + String(repeating: "b", count: 17_408)),
            status: 431),
        .init(
            "17 KiB head without any line end",
            "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "b", count: 17_408), status: 431),
        .init("17 KiB request line", "GET /" + String(repeating: "p", count: 17_408), status: 431),
        .init("17 KiB of empty lines", String(repeating: "\r\n", count: 8_704), status: 431),
    ]

    /// `request(...)` for an array of lines.
    private static func requestBytes(_ lines: [String]) -> [UInt8] {
        Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }
}

@Suite("Malformed and oversized requests, fed whole, split at every byte and byte by byte")
struct MalformedRequestFixtureTests {
    /// Every malformed fixture fails with its status, after the same events, however it is split.
    @Test(arguments: MalformedFixture.all)
    func failsWithTheExactStatusHoweverTheBytesAreSplit(_ fixture: MalformedFixture) throws {
        let whole = ParserHarness.run([fixture.bytes[...]])
        let error = try #require(whole.error, "no error for \(fixture.name): \(whole)")
        #expect(error.status == fixture.status)
        #expect(error.code.status == fixture.status)
        #expect(whole.events == fixture.eventsBeforeError)
        ParserHarness.expectEveryFeeding(of: fixture.bytes, produces: whole)
    }
}
