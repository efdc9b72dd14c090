// libFuzzer harness for `HTTPRequestParser` (issue 11). Built by fuzz/run.sh against the HTTP1 module.
//
// Input layout: byte 0 chooses the number of extra split points (bits 0-2) and the limits (bits 3-5); then two
// bytes per split point (big-endian, taken modulo the data length); the rest is the data, fed to one parser
// whole and to another in the chosen pieces. Invariants, any violation traps (libFuzzer saves the input):
// - both feedings produce the same events (body chunks merged) and the same error;
// - every error is an `HTTPParseError` whose status is 400, 431 or 505, and equals its code's status;
// - a failed parser keeps failing with the same error and ignores appended bytes;
// - events follow `head (body)* end`, body chunks are never empty, a Content-Length body has exactly its
//   length, heads respect the header count limit and split target into path and query;
// - whenever `next()` returns nil, the buffered bytes are below the head limit (or the chunk-size line limit):
//   the parser never holds more than its limits allow while waiting for input.
import HTTP1

/// The chunk-size line limit (`HTTPRequestParser.maxChunkSizeLineBytes`, internal to HTTP1).
private let maxChunkSizeLineBytes = 4_096

/// Limits chosen by bits 3-5 of the first byte: the SPEC's, and small ones that make 431 reachable.
private let limitChoices: [HTTPLimits] = [
    HTTPLimits(),
    HTTPLimits(maxHeadBytes: 64, maxHeaderCount: 100),
    HTTPLimits(maxHeadBytes: 256, maxHeaderCount: 3),
    HTTPLimits(maxHeadBytes: 1_024, maxHeaderCount: 1),
    HTTPLimits(maxHeadBytes: 16_384, maxHeaderCount: 2),
    HTTPLimits(maxHeadBytes: 40, maxHeaderCount: 0),
    HTTPLimits(maxHeadBytes: 4_097, maxHeaderCount: 100),
    HTTPLimits(maxHeadBytes: 512, maxHeaderCount: 100),
]

/// What one feeding produced.
private struct Outcome: Equatable {
    var events: [HTTPParserEvent] = []
    var error: HTTPParseError?
}

/// Stops the process with a message; libFuzzer records the input as a crash.
private func violated(_ message: String) -> Never {
    fatalError("fuzz invariant violated: \(message)")
}

/// Pulls events until `nil` or a throw, checking the per-call invariants.
private func drain(_ parser: inout HTTPRequestParser, limits: HTTPLimits, into outcome: inout Outcome) {
    do throws(HTTPParseError) {
        while let event = try parser.next() {
            if case .body(let bytes) = event, case .body(let previous)? = outcome.events.last {
                if bytes.isEmpty { violated("empty body chunk") }
                outcome.events[outcome.events.count - 1] = .body(previous + bytes)
            } else {
                if case .body(let bytes) = event, bytes.isEmpty { violated("empty body chunk") }
                outcome.events.append(event)
            }
        }
        let bound = max(limits.maxHeadBytes, maxChunkSizeLineBytes)
        if parser.bufferedByteCount >= bound {
            violated("\(parser.bufferedByteCount) bytes buffered while waiting for input (bound \(bound))")
        }
    } catch {
        guard [400, 431, 505].contains(error.status), error.status == error.code.status else {
            violated("error status \(error.status) for code \(error.code)")
        }
        outcome.error = error
        // Failed for good: the same error again, and appended bytes are ignored.
        let buffered = parser.bufferedByteCount
        parser.append([0x0D, 0x0A])
        if parser.bufferedByteCount != buffered { violated("a failed parser accepted more bytes") }
        do throws(HTTPParseError) {
            _ = try parser.next()
            violated("a failed parser stopped throwing")
        } catch let again {
            if again != error { violated("a failed parser threw \(again) after \(error)") }
        }
    }
}

/// Feeds `pieces` in order to a fresh parser.
private func feed(_ pieces: [ArraySlice<UInt8>], limits: HTTPLimits) -> Outcome {
    var parser = HTTPRequestParser(limits: limits)
    var outcome = Outcome()
    for piece in pieces where outcome.error == nil {
        parser.append(piece)
        drain(&parser, limits: limits, into: &outcome)
    }
    return outcome
}

/// Checks the event sequence of one outcome against the grammar and the heads' own promises.
private func checkGrammar(_ outcome: Outcome, limits: HTTPLimits) {
    var open: HTTPRequestHead?
    var bodyBytes = 0
    for event in outcome.events {
        switch event {
        case .head(let head):
            if open != nil { violated("head inside a request") }
            if head.headers.count > limits.maxHeaderCount { violated("\(head.headers.count) headers delivered") }
            let rebuilt = head.path + (head.query.map { "?" + $0 } ?? "")
            if rebuilt != head.target { violated("path/query do not rebuild the target") }
            if case .contentLength(let length) = head.framing, length < 0 { violated("negative length") }
            open = head
            bodyBytes = 0
        case .body(let bytes):
            guard let head = open else { violated("body outside a request") }
            if head.framing == .none { violated("body for a request without framing") }
            bodyBytes += bytes.count
            if case .contentLength(let length) = head.framing, bodyBytes > length {
                violated("body longer than Content-Length")
            }
        case .end:
            guard let head = open else { violated("end outside a request") }
            if case .contentLength(let length) = head.framing, bodyBytes != length {
                violated("body of \(bodyBytes) bytes for Content-Length \(length)")
            }
            open = nil
        }
    }
}

/// libFuzzer's entry point.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let start, size > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: start, count: size)
    let control = input[0]
    let splitCount = Int(control & 0x07)
    let limits = limitChoices[Int(control >> 3) & 0x07]
    let headerLength = 1 + 2 * splitCount
    guard size >= headerLength else { return 0 }
    let data = Array(input[headerLength...])

    var splits: [Int] = []
    for index in 0..<splitCount {
        let raw = Int(input[1 + 2 * index]) << 8 | Int(input[2 + 2 * index])
        splits.append(data.isEmpty ? 0 : raw % (data.count + 1))
    }
    splits.sort()
    var pieces: [ArraySlice<UInt8>] = []
    var previous = 0
    for split in splits + [data.count] {
        pieces.append(data[previous..<split])
        previous = split
    }

    let whole = feed([data[...]], limits: limits)
    let split = feed(pieces, limits: limits)
    checkGrammar(whole, limits: limits)
    if whole != split {
        violated("whole and split feedings differ at \(splits): \(whole) versus \(split)")
    }
    return 0
}
