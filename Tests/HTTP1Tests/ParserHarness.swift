import HTTP1
import Testing

/// What feeding some pieces of input to a fresh parser produced.
struct ParseOutcome: Equatable, CustomStringConvertible {
    /// Events in order, with consecutive `.body` chunks concatenated (chunk boundaries depend on how the
    /// input was split; the bytes must not).
    var events: [HTTPParserEvent]
    /// The error `next()` threw, if any.
    var error: HTTPParseError?

    /// The events and error, readable in a failed expectation.
    var description: String {
        let rendered = events.map { event -> String in
            switch event {
            case .head(let head): "head(\(head.method) \(head.target) \(head.framing))"
            case .body(let bytes): "body(\(String(decoding: bytes, as: UTF8.self).debugDescription))"
            case .end: "end"
            }
        }
        return "\(rendered) error: \(error.map(String.init(describing:)) ?? "none")"
    }
}

/// Feeds byte fixtures to `HTTPRequestParser` whole, split in two at every boundary, and one byte at a time.
enum ParserHarness {
    /// Appends each piece in turn and pulls events after each until `next()` returns `nil` or throws.
    static func run(_ pieces: [ArraySlice<UInt8>], limits: HTTPLimits = HTTPLimits()) -> ParseOutcome {
        var parser = HTTPRequestParser(limits: limits)
        var outcome = ParseOutcome(events: [], error: nil)
        do throws(HTTPParseError) {
            for piece in pieces {
                parser.append(piece)
                while let event = try parser.next() {
                    record(event, in: &outcome.events)
                }
            }
        } catch {
            outcome.error = error
        }
        return outcome
    }

    /// Appends `event`, merging it into the previous event when both are body chunks.
    static func record(_ event: HTTPParserEvent, in events: inout [HTTPParserEvent]) {
        if case .body(let more) = event, case .body(let previous)? = events.last {
            events[events.count - 1] = .body(previous + more)
        } else {
            events.append(event)
        }
    }

    /// Every way the harness splits `bytes`, with a label for failure messages: whole, in two at each boundary
    /// (a sample of boundaries for inputs over 4 KiB, to keep debug runs fast) and one byte at a time.
    static func feedings(of bytes: [UInt8]) -> [(label: String, pieces: [ArraySlice<UInt8>])] {
        var result: [(label: String, pieces: [ArraySlice<UInt8>])] = [("whole", [bytes[...]])]
        let step = bytes.count > 4_096 ? 97 : 1
        var splits = Array(stride(from: 1, to: bytes.count, by: step))
        if bytes.count > 4_096 { splits += [bytes.count - 2, bytes.count - 1] }
        for split in splits where split > 0 && split < bytes.count {
            result.append(("split at \(split)", [bytes[..<split], bytes[split...]]))
        }
        result.append(("byte by byte", bytes.indices.map { bytes[$0...$0] }))
        return result
    }

    /// Asserts that every feeding of `bytes` produces `expected`.
    static func expectEveryFeeding(
        of bytes: [UInt8],
        limits: HTTPLimits = HTTPLimits(),
        produces expected: ParseOutcome,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for (label, pieces) in feedings(of: bytes) {
            let outcome = run(pieces, limits: limits)
            #expect(outcome == expected, "fed \(label)", sourceLocation: sourceLocation)
            // One failing split is enough to diagnose; don't flood the log with thousands.
            if outcome != expected { return }
        }
    }
}

/// Builds request bytes from lines joined with CRLF; the last element is the body (often "").
func request(_ lines: String..., body: String = "") -> [UInt8] {
    Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
}

/// Builds an expected head the way the parser should, with HTTP/1.1 defaults.
func head(
    _ method: String,
    _ target: String,
    _ headers: [(String, String)],
    framing: BodyFraming = .none,
    version: HTTPVersion = .http11,
    keepAlive: Bool = true,
    expectsContinue: Bool = false,
    notUTF8: Set<String> = []
) -> HTTPParserEvent {
    .head(
        HTTPRequestHead(
            method: method,
            target: target,
            version: version,
            headers: headers.map { HTTPHeader(name: $0.0, value: $0.1, valueIsUTF8: !notUTF8.contains($0.0)) },
            framing: framing,
            keepAlive: keepAlive,
            expectsContinue: expectsContinue
        )
    )
}

/// A body event holding `text` as UTF-8.
func body(_ text: String) -> HTTPParserEvent {
    .body(Array(text.utf8))
}
