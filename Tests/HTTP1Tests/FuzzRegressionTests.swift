import Foundation
import HTTP1
import Testing

/// Inputs the `fuzz/http1-parser` harness found (issue 11), kept as tests: each is fed whole, split in two at
/// every boundary and one byte at a time, and must fail the same way every time.
@Suite("Request parser: fuzz regressions")
struct FuzzRegressionTests {
    /// A CR in the last byte the head limit allows, followed by something other than LF: whole, the parser
    /// looked past the limit and answered 400 (bare CR); with the CR last in a read it answered 431. A CRLF
    /// there would end a line one byte over the limit, so 431 is the answer however the bytes arrive.
    @Test func carriageReturnInTheLastAllowedHeadByteIsOverTheLimitHoweverSplit() {
        let limits = HTTPLimits(maxHeadBytes: 64, maxHeaderCount: 100)
        let line = "GET /" + String(repeating: "a", count: 63 - 5)
        #expect(line.utf8.count == 63)
        for next in ["x", "\r", " ", "\n"] {
            ParserHarness.expectEveryFeeding(
                of: Array((line + "\r" + next).utf8),
                limits: limits,
                produces: ParseOutcome(
                    events: [],
                    error: HTTPParseError(.headersTooLarge, "The request head is larger than 64 bytes.")
                )
            )
        }
    }

    /// The same rule for a chunk-size line, whose limit is 4,096 bytes: a CR in its last byte is a line too
    /// long (400 with that message), not a bare CR.
    @Test func carriageReturnInTheLastAllowedChunkSizeByteIsTooLongHoweverSplit() {
        let prefix = MalformedFixture.chunkedPrefix + "1;" + String(repeating: "e", count: 4_095 - 2)
        let bytes = Array((prefix + "\rx").utf8)
        ParserHarness.expectEveryFeeding(
            of: bytes,
            produces: ParseOutcome(
                events: [MalformedFixture.chunkedHead],
                error: HTTPParseError(.badRequest, "A chunk size line is longer than 4096 bytes.")
            )
        )
    }

    /// Replays every input under `fuzz/regressions/http1-parser/` the way the harness reads it (first byte:
    /// split count and limits; two bytes per split point; then the data) and expects whole and split feedings
    /// to agree.
    @Test func committedFuzzInputsParseTheSameWholeAndSplit() throws {
        let directory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fuzz/regressions/http1-parser")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(!names.isEmpty)
        for name in names {
            let input = try [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))
            let (limits, pieces) = try #require(Self.harnessFeeding(input), "\(name) is too short")
            let data = Array(pieces.joined())
            let whole = ParserHarness.run([data[...]], limits: limits)
            #expect(ParserHarness.run(pieces, limits: limits) == whole, "\(name)")
        }
    }

    /// The limits of `fuzz/http1-parser/HTTPRequestParserFuzzer.swift`, indexed by bits 3-5 of the first byte.
    static let harnessLimits: [HTTPLimits] = [
        HTTPLimits(),
        HTTPLimits(maxHeadBytes: 64, maxHeaderCount: 100),
        HTTPLimits(maxHeadBytes: 256, maxHeaderCount: 3),
        HTTPLimits(maxHeadBytes: 1_024, maxHeaderCount: 1),
        HTTPLimits(maxHeadBytes: 16_384, maxHeaderCount: 2),
        HTTPLimits(maxHeadBytes: 40, maxHeaderCount: 0),
        HTTPLimits(maxHeadBytes: 4_097, maxHeaderCount: 100),
        HTTPLimits(maxHeadBytes: 512, maxHeaderCount: 100),
    ]

    /// Decodes a harness input into its limits and pieces, as the harness does; `nil` when it is too short.
    static func harnessFeeding(_ input: [UInt8]) -> (HTTPLimits, [ArraySlice<UInt8>])? {
        guard let control = input.first else { return nil }
        let splitCount = Int(control & 0x07)
        let headerLength = 1 + 2 * splitCount
        guard input.count >= headerLength else { return nil }
        let data = Array(input[headerLength...])
        let splits = (0..<splitCount).map { index in
            let raw = Int(input[1 + 2 * index]) << 8 | Int(input[2 + 2 * index])
            return data.isEmpty ? 0 : raw % (data.count + 1)
        }.sorted()
        var pieces: [ArraySlice<UInt8>] = []
        var previous = 0
        for split in splits + [data.count] {
            pieces.append(data[previous..<split])
            previous = split
        }
        return (harnessLimits[Int(control >> 3) & 0x07], pieces)
    }
}
