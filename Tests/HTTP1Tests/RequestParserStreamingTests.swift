import HTTP1
import Testing

@Suite("Request parser: pausing, pipelining, limits and state across calls")
struct RequestParserStreamingTests {
    @Test func pausingAfterHeadKeepsTheBodyBufferedUntilPulled() throws {
        var parser = HTTPRequestParser()
        parser.append(request("POST /w HTTP/1.1", "Host: x", "Content-Length: 5", body: "hello"))
        let event = try parser.next()
        guard case .head(let head) = event else {
            Issue.record("expected a head, got \(String(describing: event))")
            return
        }
        #expect(head.framing == .contentLength(5))
        #expect(parser.bufferedByteCount == 5)
        #expect(try parser.next() == body("hello"))
        #expect(parser.bufferedByteCount == 0)
        #expect(try parser.next() == .end)
        #expect(try parser.next() == nil)
    }

    @Test func contentLengthBodyNeverIncludesThePipelinedNextRequest() throws {
        var parser = HTTPRequestParser()
        let second = request("GET /next HTTP/1.1", "Host: x")
        parser.append(request("POST /w HTTP/1.1", "Host: x", "Content-Length: 3", body: "abc") + second)
        _ = try parser.next()  // the head; its contents are covered by the fixture tests
        #expect(try parser.next() == body("abc"))
        #expect(try parser.next() == .end)
        #expect(parser.bufferedByteCount == second.count)
        #expect(try parser.next() == head("GET", "/next", [("Host", "x")]))
    }

    @Test func partialSecondRequestStaysBufferedAndCompletesLater() throws {
        var parser = HTTPRequestParser()
        let partial = Array("POST /b HTTP/1.1\r\nHost: x\r\n".utf8)
        parser.append(request("GET /a HTTP/1.1", "Host: x") + partial)
        #expect(try parser.next() == head("GET", "/a", [("Host", "x")]))
        #expect(try parser.next() == .end)
        #expect(try parser.next() == nil)
        // The started head still counts as buffered, so the caller can tell "idle" from "head in progress".
        #expect(parser.bufferedByteCount == partial.count)
        parser.append(Array("Content-Length: 1\r\n\r\nz".utf8))
        #expect(
            try parser.next()
                == head("POST", "/b", [("Host", "x"), ("Content-Length", "1")], framing: .contentLength(1))
        )
        #expect(try parser.next() == body("z"))
        #expect(try parser.next() == .end)
    }

    @Test func emptyLinesBetweenRequestsLeaveTheConnectionIdle() throws {
        var parser = HTTPRequestParser()
        parser.append(request("GET / HTTP/1.1", "Host: x") + Array("\r\n".utf8))
        #expect(try parser.next() != nil)
        #expect(try parser.next() == .end)
        #expect(try parser.next() == nil)
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func chunkedBodyYieldsChunkDataAsItArrives() throws {
        var parser = HTTPRequestParser()
        parser.append(request("POST /w HTTP/1.1", "Host: x", "Transfer-Encoding: chunked", body: "a\r\n01234"))
        #expect(
            try parser.next()
                == head(
                    "POST", "/w", [("Host", "x"), ("Transfer-Encoding", "chunked")],
                    framing: .chunked))
        #expect(try parser.next() == body("01234"))
        #expect(try parser.next() == nil)
        parser.append(Array("56789\r\n0\r\n\r\n".utf8))
        #expect(try parser.next() == body("56789"))
        #expect(try parser.next() == .end)
    }

    @Test func unsafeRawBufferPointerAppendMatchesArrayAppend() throws {
        var parser = HTTPRequestParser()
        let bytes = request("POST /w HTTP/1.1", "Host: x", "Content-Length: 2", body: "ok")
        bytes.withUnsafeBytes { parser.append($0) }
        #expect(
            try parser.next()
                == head(
                    "POST", "/w", [("Host", "x"), ("Content-Length", "2")],
                    framing: .contentLength(2)))
        #expect(try parser.next() == body("ok"))
        #expect(try parser.next() == .end)
    }

    @Test func errorsAreStickyAndLaterInputIsIgnored() throws {
        var parser = HTTPRequestParser()
        parser.append(Array("GET / HTTP/1.1\r\nHost : x\r\n\r\n".utf8))
        let first = #expect(throws: HTTPParseError.self) { try parser.next() }
        parser.append(request("GET / HTTP/1.1", "Host: x"))
        let second = #expect(throws: HTTPParseError.self) { try parser.next() }
        #expect(first == second)
        #expect(first?.code == .badRequest)
        #expect(first?.status == 400)
    }

    // MARK: - Limits

    @Test func headOfExactlyMaxHeadBytesIsAccepted() throws {
        let limits = HTTPLimits(maxHeadBytes: 64, maxHeaderCount: 100)
        let prefix = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: "
        let padding = String(repeating: "p", count: 64 - prefix.utf8.count - 4)
        let exact = Array((prefix + padding + "\r\n\r\n").utf8)
        #expect(exact.count == 64)
        var parser = HTTPRequestParser(limits: limits)
        parser.append(exact)
        #expect(try parser.next() == head("GET", "/", [("Host", "x"), ("X-Pad", padding)]))

        var over = HTTPRequestParser(limits: limits)
        over.append(Array((prefix + padding + "p\r\n\r\n").utf8))
        #expect(throws: HTTPParseError(.headersTooLarge, "The request head is larger than 64 bytes.")) {
            try over.next()
        }
    }

    @Test func oversizedHeadFailsAsSoonAsTheLimitIsPassedWithoutATerminator() throws {
        var parser = HTTPRequestParser()
        parser.append(Array("POST /w HTTP/1.1\r\nHost: x\r\nX-Big: ".utf8))
        parser.append([UInt8](repeating: UInt8(ascii: "b"), count: 16_000))
        #expect(try parser.next() == nil)
        parser.append([UInt8](repeating: UInt8(ascii: "b"), count: 1_000))
        let error = #expect(throws: HTTPParseError.self) { try parser.next() }
        #expect(error?.status == 431)
        #expect(error?.code == .headersTooLarge)
    }

    @Test func headerCountOverTheLimitFailsBeforeTheHeadEnds() throws {
        var parser = HTTPRequestParser(limits: HTTPLimits(maxHeadBytes: 16_384, maxHeaderCount: 3))
        parser.append(Array("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n".utf8))
        #expect(try parser.next() == nil)
        parser.append(Array("C: 3\r\n".utf8))
        let error = #expect(throws: HTTPParseError.self) { try parser.next() }
        #expect(error?.status == 431)
    }

    @Test func exactlyMaxHeaderCountHeadersAreAccepted() throws {
        let lines = ["GET / HTTP/1.1", "Host: x"] + (2...100).map { "X-\($0): v" }
        var parser = HTTPRequestParser()
        parser.append(Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8))
        let event = try #require(try parser.next())
        guard case .head(let head) = event else {
            Issue.record("expected a head, got \(event)")
            return
        }
        #expect(head.headers.count == 100)
    }

    @Test func manyPipelinedRequestsParseInLinearPasses() throws {
        // 3,000 requests streamed in 1,000-byte reads exercise compaction and resumed line searches.
        let one = request("POST /w?n=1 HTTP/1.1", "Host: x", "Content-Length: 4", body: "data")
        let stream = Array((0..<3_000).map { _ in one }.joined())
        var parser = HTTPRequestParser()
        var heads = 0
        var bodyBytes = 0
        var ends = 0
        var offset = 0
        while offset < stream.count {
            let end = min(offset + 1_000, stream.count)
            parser.append(stream[offset..<end])
            offset = end
            while let event = try parser.next() {
                switch event {
                case .head: heads += 1
                case .body(let bytes): bodyBytes += bytes.count
                case .end: ends += 1
                }
            }
        }
        #expect(heads == 3_000)
        #expect(bodyBytes == 12_000)
        #expect(ends == 3_000)
        #expect(parser.bufferedByteCount == 0)
    }

    // MARK: - Head accessors

    @Test(arguments: [
        ("/x?a=1", "/x", "a=1" as String?),
        ("/x?", "/x", ""),
        ("/x", "/x", nil),
        ("/x?a=1?b=2", "/x", "a=1?b=2"),
        ("/webhooks/acme?", "/webhooks/acme", ""),
    ])
    func targetSplitsIntoPathAndQueryAtTheFirstQuestionMark(target: String, path: String, query: String?) throws {
        var parser = HTTPRequestParser()
        parser.append(request("POST \(target) HTTP/1.1", "Host: x"))
        let event = try #require(try parser.next())
        guard case .head(let head) = event else {
            Issue.record("expected a head, got \(event)")
            return
        }
        #expect(head.target == target)
        #expect(head.path == path)
        #expect(head.query == query)
    }

    @Test func firstValueMatchesNamesIgnoringCaseAndReturnsTheFirst() {
        let head = HTTPRequestHead(
            method: "POST",
            target: "/",
            version: .http11,
            headers: [
                HTTPHeader(name: "webhook-id", value: "first"), HTTPHeader(name: "Webhook-ID", value: "second"),
                HTTPHeader(name: "X-GitHub-Delivery", value: "gh"),
            ],
            framing: .none,
            keepAlive: true,
            expectsContinue: false
        )
        #expect(head.firstValue(of: "WEBHOOK-ID") == "first")
        #expect(head.firstValue(of: "x-github-delivery") == "gh")
        #expect(head.firstValue(of: "Idempotency-Key") == nil)
        #expect(head.firstValue(of: "webhook-i") == nil)
        #expect(head.values(of: "Webhook-Id") == ["first", "second"])
    }

    // MARK: - Errors

    @Test func errorCodesCarryStatusAndShortName() {
        #expect(HTTPParseError.Code.badRequest.status == 400)
        #expect(HTTPParseError.Code.badRequest.name == "bad_request")
        #expect(HTTPParseError.Code.headersTooLarge.status == 431)
        #expect(HTTPParseError.Code.headersTooLarge.name == "headers_too_large")
        #expect(HTTPParseError.Code.versionNotSupported.status == 505)
        let error = HTTPParseError(.badRequest, "A header line has no colon.")
        #expect(error.status == 400)
        #expect(error.description == "400 bad_request: A header line has no colon.")
    }
}
