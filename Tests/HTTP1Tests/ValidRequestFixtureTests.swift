import HTTP1
import Testing

/// A well-formed input and the events it must produce however it is split.
struct ValidFixture: Sendable, CustomTestStringConvertible {
    /// What the fixture shows, as the test case's name.
    let name: String
    /// The raw input.
    let bytes: [UInt8]
    /// The events it must produce, body chunks concatenated.
    let events: [HTTPParserEvent]

    /// The fixture's name in test output.
    var testDescription: String { name }

    /// Every valid fixture.
    static let all: [ValidFixture] = [
        ValidFixture(
            name: "POST with Content-Length yields head, body, end",
            bytes: request(
                "POST /webhooks/acme HTTP/1.1", "Host: example.com", "Content-Type: application/json",
                "Content-Length: 13",
                body: #"{"a":"hello"}"#
            ),
            events: [
                head(
                    "POST", "/webhooks/acme",
                    [("Host", "example.com"), ("Content-Type", "application/json"), ("Content-Length", "13")],
                    framing: .contentLength(13)
                ),
                body(#"{"a":"hello"}"#), .end,
            ]
        ),
        ValidFixture(
            name: "GET without body yields head and end",
            bytes: request("GET /healthz HTTP/1.1", "Host: x"),
            events: [head("GET", "/healthz", [("Host", "x")]), .end]
        ),
        ValidFixture(
            name: "Content-Length 0 yields head and end",
            bytes: request("POST /w HTTP/1.1", "Host: x", "Content-Length: 0"),
            events: [head("POST", "/w", [("Host", "x"), ("Content-Length", "0")], framing: .contentLength(0)), .end]
        ),
        ValidFixture(
            name: "query string stays in the target",
            bytes: request("POST /x?a=1&b=%20 HTTP/1.1", "Host: x"),
            events: [head("POST", "/x?a=1&b=%20", [("Host", "x")]), .end]
        ),
        ValidFixture(
            name: "header order, case and duplicates are kept and values trimmed",
            bytes: request(
                "POST /w HTTP/1.1", "Host: x", "X-A: 1", "x-a:2", "X-B: \t spaced  value \t ", "X-Empty:",
                "X-Empty-Spaces:   "
            ),
            events: [
                head(
                    "POST", "/w",
                    [
                        ("Host", "x"), ("X-A", "1"), ("x-a", "2"), ("X-B", "spaced  value"), ("X-Empty", ""),
                        ("X-Empty-Spaces", ""),
                    ]
                ),
                .end,
            ]
        ),
        ValidFixture(
            name: "obs-text in a value is kept as UTF-8 text",
            bytes: request("GET / HTTP/1.1", "Host: x", "X-Name: café ☕"),
            events: [head("GET", "/", [("Host", "x"), ("X-Name", "café ☕")]), .end]
        ),
        ValidFixture(
            name: "invalid UTF-8 in a value is flagged (the receiver refuses it), shown with replacement characters",
            bytes: Array("GET / HTTP/1.1\r\nHost: x\r\nX-Bin: a".utf8) + [0xFF, 0xFE] + Array("b\r\n\r\n".utf8),
            events: [head("GET", "/", [("Host", "x"), ("X-Bin", "a\u{FFFD}\u{FFFD}b")], notUTF8: ["X-Bin"]), .end]
        ),
        ValidFixture(
            name: "valid UTF-8 above ASCII in a value is kept as is",
            bytes: Array("GET / HTTP/1.1\r\nHost: x\r\nX-Name: café ☕\r\n\r\n".utf8),
            events: [head("GET", "/", [("Host", "x"), ("X-Name", "café ☕")]), .end]
        ),
        ValidFixture(
            name: "HTTP/1.1 keeps the connection alive by default",
            bytes: request("GET / HTTP/1.1", "Host: x"),
            events: [head("GET", "/", [("Host", "x")], keepAlive: true), .end]
        ),
        ValidFixture(
            name: "HTTP/1.1 with Connection close does not keep alive",
            bytes: request("GET / HTTP/1.1", "Host: x", "Connection: close"),
            events: [head("GET", "/", [("Host", "x"), ("Connection", "close")], keepAlive: false), .end]
        ),
        ValidFixture(
            name: "HTTP/1.1 close anywhere in a Connection list wins",
            bytes: request("GET / HTTP/1.1", "Host: x", "Connection: Keep-Alive, CLOSE"),
            events: [head("GET", "/", [("Host", "x"), ("Connection", "Keep-Alive, CLOSE")], keepAlive: false), .end]
        ),
        ValidFixture(
            name: "HTTP/1.0 closes by default and needs no Host",
            bytes: request("GET / HTTP/1.0"),
            events: [head("GET", "/", [], version: .http10, keepAlive: false), .end]
        ),
        ValidFixture(
            name: "HTTP/1.0 with Connection keep-alive keeps alive",
            bytes: request("GET / HTTP/1.0", "connection: keep-alive"),
            events: [head("GET", "/", [("connection", "keep-alive")], version: .http10, keepAlive: true), .end]
        ),
        ValidFixture(
            name: "Expect 100-continue is recognised in any case",
            bytes: request("POST /w HTTP/1.1", "Host: x", "Expect: 100-Continue", "Content-Length: 2", body: "hi"),
            events: [
                head(
                    "POST", "/w", [("Host", "x"), ("Expect", "100-Continue"), ("Content-Length", "2")],
                    framing: .contentLength(2), expectsContinue: true
                ),
                body("hi"), .end,
            ]
        ),
        ValidFixture(
            name: "Expect 100-continue is ignored in HTTP/1.0",
            bytes: request("POST /w HTTP/1.0", "Expect: 100-continue", "Content-Length: 2", body: "hi"),
            events: [
                head(
                    "POST", "/w", [("Expect", "100-continue"), ("Content-Length", "2")],
                    framing: .contentLength(2), version: .http10, keepAlive: false, expectsContinue: false
                ),
                body("hi"), .end,
            ]
        ),
        ValidFixture(
            name: "chunked body with extensions and trailers yields the chunk data",
            bytes: request(
                "POST /w HTTP/1.1", "Host: x", "Transfer-Encoding: chunked",
                body:
                    "5;name=val\r\nhello\r\n6 ; ext ; other=\"q\"\r\n world\r\n0;last\r\nX-Trailer: yes\r\nX-Two: 2\r\n\r\n"
            ),
            events: [
                head("POST", "/w", [("Host", "x"), ("Transfer-Encoding", "chunked")], framing: .chunked),
                body("hello world"), .end,
            ]
        ),
        ValidFixture(
            name: "chunked body with only the last chunk is empty",
            bytes: request("POST /w HTTP/1.1", "Host: x", "Transfer-Encoding: chunked", body: "0\r\n\r\n"),
            events: [head("POST", "/w", [("Host", "x"), ("Transfer-Encoding", "chunked")], framing: .chunked), .end]
        ),
        ValidFixture(
            name: "chunk sizes accept upper case hex and leading zeros",
            bytes: request(
                "POST /w HTTP/1.1", "Host: x", "transfer-encoding: Chunked",
                body: "00A\r\n0123456789\r\n0000000000000000000001\r\n!\r\n000\r\n\r\n"
            ),
            events: [
                head("POST", "/w", [("Host", "x"), ("transfer-encoding", "Chunked")], framing: .chunked),
                body("0123456789!"), .end,
            ]
        ),
        ValidFixture(
            name: "identical repeated Content-Length values are accepted",
            bytes: request("POST /w HTTP/1.1", "Host: x", "Content-Length: 3", "content-length: 3, 03", body: "abc"),
            events: [
                head(
                    "POST", "/w", [("Host", "x"), ("Content-Length", "3"), ("content-length", "3, 03")],
                    framing: .contentLength(3)
                ),
                body("abc"), .end,
            ]
        ),
        ValidFixture(
            name: "empty lines before the request line are skipped",
            bytes: Array("\r\n\r\n".utf8) + request("GET / HTTP/1.1", "Host: x"),
            events: [head("GET", "/", [("Host", "x")]), .end]
        ),
        ValidFixture(
            name: "three pipelined requests are answered in order",
            bytes: request("POST /a HTTP/1.1", "Host: x", "Content-Length: 1", body: "1")
                + request("POST /b HTTP/1.1", "Host: x", "Transfer-Encoding: chunked", body: "2\r\n22\r\n0\r\n\r\n")
                + request("GET /c?q HTTP/1.1", "Host: x", "Connection: close"),
            events: [
                head("POST", "/a", [("Host", "x"), ("Content-Length", "1")], framing: .contentLength(1)),
                body("1"), .end,
                head("POST", "/b", [("Host", "x"), ("Transfer-Encoding", "chunked")], framing: .chunked),
                body("22"), .end,
                head("GET", "/c?q", [("Host", "x"), ("Connection", "close")], keepAlive: false), .end,
            ]
        ),
        ValidFixture(
            name: "a request followed by a partial second one yields only the first",
            bytes: request("POST /a HTTP/1.1", "Host: x", "Content-Length: 2", body: "ok")
                + Array("POST /b HTTP/1.1\r\nHost: x\r\nContent-Le".utf8),
            events: [
                head("POST", "/a", [("Host", "x"), ("Content-Length", "2")], framing: .contentLength(2)),
                body("ok"), .end,
            ]
        ),
        ValidFixture(
            name: "a body larger than the compaction threshold arrives intact",
            bytes: request("POST /big HTTP/1.1", "Host: x", "Content-Length: 10000", body: bigBody)
                + request("GET /after HTTP/1.1", "Host: x"),
            events: [
                head("POST", "/big", [("Host", "x"), ("Content-Length", "10000")], framing: .contentLength(10_000)),
                body(bigBody), .end,
                head("GET", "/after", [("Host", "x")]), .end,
            ]
        ),
        ValidFixture(
            name: "method and target may use any token and visible ASCII",
            bytes: request("M-SEARCH * HTTP/1.1", "Host: x"),
            events: [head("M-SEARCH", "*", [("Host", "x")]), .end]
        ),
    ]

    /// 10,000 bytes of varied ASCII, so a misplaced slice shows up.
    static var bigBody: String {
        String((0..<10_000).map { Character(Unicode.Scalar(UInt8(0x21 + $0 % 90))) })
    }
}

@Suite("Valid requests, fed whole, split at every byte and byte by byte")
struct ValidRequestFixtureTests {
    /// Every valid fixture parses to its events whole, split in two anywhere, and one byte at a time.
    @Test(arguments: ValidFixture.all)
    func producesTheSameEventsHoweverTheBytesAreSplit(_ fixture: ValidFixture) {
        ParserHarness.expectEveryFeeding(
            of: fixture.bytes,
            produces: ParseOutcome(events: fixture.events, error: nil)
        )
    }
}
