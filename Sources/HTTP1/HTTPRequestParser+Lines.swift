import Bytes

// MARK: - Line search

extension HTTPRequestParser {
    /// Looks for the LF ending the line at `lineStart`, resuming at `scanIndex` and looking at no more than
    /// `limit` bytes from the line's start.
    ///
    /// RFC 9112 §2.2 lets a server accept a bare LF or replace a bare CR; we refuse both (400), because a
    /// proxy in front of us that reads them differently is how requests get smuggled.
    private func scanLine(limit: Int) -> LineScan {
        let lineStart = lineStart
        let resume = scanIndex
        let end = min(buffer.count, lineStart + max(limit, 0))
        return buffer.withUnsafeBufferPointer { bytes in
            var index = resume
            while index < end {
                let byte = bytes[index]
                if byte == ASCII.lf {
                    guard index > lineStart && bytes[index - 1] == ASCII.cr else { return .bareLineFeed }
                    return .complete(lineFeedIndex: index)
                }
                if byte == ASCII.cr {
                    // Decide about a CR only once its successor has arrived, and only when that successor is
                    // within the limit: a CR in the line's last allowed byte leaves no room for its LF, so the
                    // line is over the limit whatever follows. Looking past the limit made the answer depend
                    // on how the bytes were split (400 bare CR whole, 431 when the CR came last; found by
                    // fuzz/http1-parser).
                    guard index + 1 < end else { return .incomplete(resumeIndex: index) }
                    guard bytes[index + 1] == ASCII.lf else { return .bareCarriageReturn }
                }
                index += 1
            }
            return .incomplete(resumeIndex: index)
        }
    }

    /// The buffer range of the next complete line's content (without its CRLF), or `nil` when it has not
    /// fully arrived yet.
    ///
    /// The limit is checked as soon as `limit` bytes are buffered without a line end, so an endless line fails
    /// early instead of filling memory.
    /// - Parameters:
    ///   - limit: The most bytes the line may take, CRLF included.
    ///   - kind: Which limit is being enforced, for the error.
    /// - Throws: `HTTPParseError`: 400 for a bare CR or LF, 431 or 400 (by `kind`) when the line is too long.
    mutating func nextLine(limit: Int, kind: LineKind) throws(HTTPParseError) -> Range<Int>? {
        switch scanLine(limit: limit) {
        case .complete(let lineFeedIndex):
            return lineStart..<(lineFeedIndex - 1)
        case .incomplete(let resumeIndex):
            scanIndex = resumeIndex
            let buffered = buffer.count - lineStart
            guard buffered > 0 && buffered >= limit else { return nil }
            switch kind {
            case .head:
                throw .headersTooLarge("The request head is larger than \(limits.maxHeadBytes) bytes.")
            case .chunkSize:
                throw .badRequest("A chunk size line is longer than \(Self.maxChunkSizeLineBytes) bytes.")
            case .trailer:
                throw .headersTooLarge("The trailer section is larger than \(limits.maxHeadBytes) bytes.")
            }
        case .bareCarriageReturn:
            throw .badRequest("The request contains a CR that is not followed by LF.")
        case .bareLineFeed:
            throw .badRequest("The request contains a line that ends with LF instead of CRLF.")
        }
    }

    // MARK: - Head

    /// Consumes the next line of a request head: a skipped empty line, the request line, a header line or the
    /// empty line that completes the head.
    /// - Throws: `HTTPParseError` for a malformed line (400), a head over the limits (431) or an unsupported
    ///   version (505).
    mutating func parseHeadLine() throws(HTTPParseError) -> HeadProgress {
        let budget = limits.maxHeadBytes - sectionByteCount
        guard let line = try nextLine(limit: budget, kind: .head) else { return .needMoreInput }
        let lineByteCount = line.count + 2
        switch state {
        case .requestLine:
            // RFC 9112 §2.2: empty lines before the request line are ignored (they still count toward the
            // head budget, so an endless stream of them ends in 431).
            guard !line.isEmpty else {
                consume(lineByteCount)
                sectionByteCount += lineByteCount
                return .lineConsumed
            }
            state = .headerLines(try parseRequestLine(line))
        case .headerLines(let requestLine):
            if line.isEmpty {
                consume(lineByteCount)  // the whole head, from readIndex
                let fields = headers
                headers = []
                sectionByteCount = 0
                sectionLineCount = 0
                return .complete(
                    try HTTPRequestHead.validated(
                        method: requestLine.method,
                        target: requestLine.target,
                        version: requestLine.version,
                        headers: fields
                    )
                )
            }
            guard sectionLineCount < limits.maxHeaderCount else {
                throw .headersTooLarge("The request has more than \(limits.maxHeaderCount) header fields.")
            }
            if headers.isEmpty { headers.reserveCapacity(16) }
            headers.append(try parseFieldLine(line))
            sectionLineCount += 1
        default:
            preconditionFailure("parseHeadLine called outside the request head")
        }
        advanceLine(lineByteCount)
        sectionByteCount += lineByteCount
        return .lineConsumed
    }

    /// Parses `METHOD SP request-target SP HTTP-version` (RFC 9112 §3), with exactly one space between parts.
    private func parseRequestLine(_ range: Range<Int>) throws(HTTPParseError) -> RequestLine {
        try buffer.withUnsafeBufferPointer { (all) throws(HTTPParseError) -> RequestLine in
            let line = UnsafeBufferPointer(rebasing: all[range])
            guard let methodEnd = line.firstIndex(of: ASCII.space), methodEnd > 0,
                line[..<methodEnd].allSatisfy(ASCII.isTokenCharacter)
            else {
                throw .badRequest("The request line does not start with a valid method.")
            }
            let targetStart = methodEnd + 1
            guard let targetEnd = line[targetStart...].firstIndex(of: ASCII.space), targetEnd > targetStart else {
                throw .badRequest("The request line has no request target.")
            }
            // Visible ASCII only: whitespace, control bytes and raw non-ASCII are never valid in a URI, and
            // refusing them keeps `target` exactly the bytes that were sent.
            guard line[targetStart..<targetEnd].allSatisfy({ $0 > ASCII.space && $0 < ASCII.delete }) else {
                throw .badRequest("The request target contains whitespace, control or non-ASCII bytes.")
            }
            let version = try Self.parseVersion(UnsafeBufferPointer(rebasing: line[(targetEnd + 1)...]))
            return RequestLine(
                method: String(decoding: UnsafeBufferPointer(rebasing: line[..<methodEnd]), as: UTF8.self),
                target: String(
                    decoding: UnsafeBufferPointer(rebasing: line[targetStart..<targetEnd]),
                    as: UTF8.self
                ),
                version: version
            )
        }
    }

    /// Parses `HTTP/1.0` or `HTTP/1.1`; `HTTP/d.d` with another major version is a 505, anything else a 400.
    private static func parseVersion(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> HTTPVersion {
        guard bytes.count == 8, bytes.starts(with: "HTTP/".utf8), ASCII.isDigit(bytes[5]),
            bytes[6] == UInt8(ascii: "."), ASCII.isDigit(bytes[7])
        else {
            throw .badRequest("The request line does not end with a valid HTTP version.")
        }
        guard bytes[5] == UInt8(ascii: "1") else {
            throw HTTPParseError(.versionNotSupported, "Only HTTP/1.0 and HTTP/1.1 are supported.")
        }
        switch bytes[7] {
        case UInt8(ascii: "0"): return .http10
        case UInt8(ascii: "1"): return .http11
        default: throw .badRequest("Only HTTP/1.0 and HTTP/1.1 are supported.")
        }
    }

    /// Parses `field-name ":" OWS field-value OWS` (RFC 9112 §5), for header and trailer lines alike.
    private func parseFieldLine(_ range: Range<Int>) throws(HTTPParseError) -> HTTPHeader {
        try buffer.withUnsafeBufferPointer { (all) throws(HTTPParseError) -> HTTPHeader in
            let line = UnsafeBufferPointer(rebasing: all[range])
            // RFC 9112 §5.2: obs-fold in a request may be rejected with 400; unfolding invites smuggling.
            if let first = line.first, ASCII.isWhitespace(first) {
                throw .badRequest("A header line starts with whitespace (obsolete line folding).")
            }
            guard let colon = line.firstIndex(of: ASCII.colon) else {
                throw .badRequest("A header line has no colon.")
            }
            guard colon > 0 else {
                throw .badRequest("A header line has an empty name.")
            }
            for byte in line[..<colon] where !ASCII.isTokenCharacter(byte) {
                // RFC 9112 §5.1: whitespace between name and colon MUST be rejected with 400.
                if ASCII.isWhitespace(byte) {
                    throw .badRequest("A header name is followed by whitespace before the colon.")
                }
                throw .badRequest("A header name contains a character that is not allowed.")
            }
            var valueStart = colon + 1
            var valueEnd = line.count
            guard line[valueStart..<valueEnd].allSatisfy(ASCII.isFieldValueByte) else {
                throw .badRequest("A header value contains a control character.")
            }
            while valueStart < valueEnd && ASCII.isWhitespace(line[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart && ASCII.isWhitespace(line[valueEnd - 1]) { valueEnd -= 1 }
            let value = UnsafeBufferPointer(rebasing: line[valueStart..<valueEnd])
            return HTTPHeader(
                name: String(decoding: UnsafeBufferPointer(rebasing: line[..<colon]), as: UTF8.self),
                value: String(decoding: value, as: UTF8.self),
                valueIsUTF8: value.allSatisfy { $0 < 0x80 } || UTF8Scalars.all(value))
        }
    }

    // MARK: - Trailers

    /// Consumes the next trailer line of a chunked body: `true` after the empty line that ends the body,
    /// `false` after a (validated, discarded) trailer field, `nil` when more input is needed.
    /// - Throws: `HTTPParseError`: 400 for a malformed line, 431 when the trailer section exceeds
    ///   `limits.maxHeadBytes` bytes or `limits.maxHeaderCount` fields.
    mutating func parseTrailerLine() throws(HTTPParseError) -> Bool? {
        let budget = limits.maxHeadBytes - sectionByteCount
        guard let line = try nextLine(limit: budget, kind: .trailer) else { return nil }
        let lineByteCount = line.count + 2
        if line.isEmpty {
            consume(lineByteCount)
            sectionByteCount = 0
            sectionLineCount = 0
            return true
        }
        guard sectionLineCount < limits.maxHeaderCount else {
            throw .headersTooLarge("The request has more than \(limits.maxHeaderCount) trailer fields.")
        }
        // Trailers are validated like headers but not delivered: nothing downstream reads them.
        _ = try parseFieldLine(line)
        sectionLineCount += 1
        consume(lineByteCount)
        sectionByteCount += lineByteCount
        return false
    }
}
