/// An incremental HTTP/1.1 request parser: bytes in, `HTTPParserEvent`s out, no I/O.
///
/// Append whatever the connection read, then call `next()` until it returns `nil`. Each request produces
/// `.head`, zero or more `.body` chunks and `.end`; the bytes after `.end` stay buffered and become the next
/// (pipelined) request. The caller may stop pulling after `.head` (to authorize, or to answer 404/405/403/411/413
/// before reading the body) and resume later: nothing is lost or reordered.
///
/// The parser is strict where request smuggling lives (RFC 9112 §6, §11.2): bare CR or bare LF line endings,
/// obsolete line folding, whitespace before a colon, `Content-Length` with `Transfer-Encoding`, conflicting
/// lengths and malformed chunks are refused with 400 instead of guessed. After a throw the parser stays failed:
/// every later `next()` throws the same error, and the connection should be closed after the answer.
///
/// Choices where RFC 9112 leaves room: bare LF line endings are refused (400), not accepted; empty lines
/// before a request line are skipped but count toward `maxHeadBytes`; an HTTP/1.1 request without exactly one
/// `Host`, or any request with two, is a 400 (RFC 9112 §3.2, as nginx does); `HTTP/2.0` and other major
/// versions are 505; trailer fields are validated, counted against `limits` (431) and dropped.
///
/// ```swift
/// parser.append(bytesFromTLS)
/// while let event = try parser.next() {
///     switch event {
///     case .head(let head): break  // route, authorize, maybe answer 100 Continue, 404, 413…
///     case .body(let bytes): break  // store; for Content-Length never past the declared length
///     case .end: break  // answer; the next pipelined request starts with the next call
///     }
/// }
/// ```
/// To answer early but keep the connection (404 on a keep-alive request, say), keep calling `next()` and
/// discard `.body` events until `.end`; to close instead, just stop.
///
/// Each byte is examined once: line searches resume where they stopped, and consumed bytes are compacted away
/// only when they make up at least half of the buffer.
///
/// > Warning: One parser belongs to one connection and is used by one thread at a time. It is `Sendable` only
/// > because it is a plain value that can be handed to the thread that owns the connection.
package struct HTTPRequestParser: Sendable {
    /// Where the parser is within the current request.
    enum State: Sendable {
        /// Skipping empty lines, then waiting for the request line.
        case requestLine
        /// Reading header field lines until the empty line, after this request line.
        case headerLines(RequestLine)
        /// Emitting the remaining bytes of a `Content-Length` body; 0 for a request without a body.
        case fixedBody(remaining: Int)
        /// Waiting for a chunk-size line.
        case chunkSize
        /// Emitting the remaining bytes of the current chunk.
        case chunkData(remaining: Int)
        /// Expecting the CRLF that must follow chunk data.
        case chunkDataEnd
        /// Reading (and discarding) trailer field lines until the empty line.
        case trailerLines
        /// A previous call threw; the same error is thrown again.
        case failed(HTTPParseError)
    }

    /// The parts of a request line, kept until the head is complete.
    struct RequestLine: Sendable {
        /// The method token.
        var method: String
        /// The raw request-target.
        var target: String
        /// The protocol version.
        var version: HTTPVersion
    }

    /// What one step of head parsing achieved.
    enum HeadProgress {
        /// The buffered bytes hold no complete line.
        case needMoreInput
        /// A line (skipped empty line, request line or header line) was consumed; the head is not complete.
        case lineConsumed
        /// The empty line ending the head was consumed.
        case complete(HTTPRequestHead)
    }

    /// Which kind of line is being searched for; it decides the length limit's error.
    enum LineKind {
        /// The request line or a header line: over the head budget is a 431.
        case head
        /// A chunk-size line: over `maxChunkSizeLineBytes` is a 400.
        case chunkSize
        /// A trailer line: over the trailer budget is a 431.
        case trailer
    }

    /// Why a line search stopped.
    enum LineScan {
        /// The line's LF is at this buffer index and is preceded by CR.
        case complete(lineFeedIndex: Int)
        /// No complete line yet; searching resumes at this index.
        case incomplete(resumeIndex: Int)
        /// A CR followed by something other than LF.
        case bareCarriageReturn
        /// An LF not preceded by CR.
        case bareLineFeed
    }

    /// The longest chunk-size line (size, extensions and CRLF) accepted; a longer one is a 400.
    static let maxChunkSizeLineBytes = 4_096

    /// Consumed bytes are compacted away in `append` once there are at least this many of them (and at least
    /// half the buffer), so compaction costs amortized O(1) per byte.
    private static let compactionThreshold = 4_096

    /// The head limits.
    let limits: HTTPLimits
    /// Appended bytes; those before `readIndex` are consumed.
    var buffer: [UInt8] = []
    /// The first unconsumed byte in `buffer`. While a head is incomplete its parsed lines stay unconsumed
    /// (they count in `bufferedByteCount`), and this is where the head starts.
    var readIndex = 0
    /// Where the current line starts; equal to `readIndex` except inside a request head.
    var lineStart = 0
    /// Where the current line search resumes; bytes in `lineStart..<scanIndex` hold no LF and no bare CR.
    var scanIndex = 0
    /// Where the parser is within the current request.
    var state = State.requestLine
    /// Bytes consumed so far by the current head (or trailer section), for the 431 limit.
    var sectionByteCount = 0
    /// Header (or trailer) lines seen so far in the current section, for the 431 limit.
    var sectionLineCount = 0
    /// The current request's header fields so far.
    var headers: [HTTPHeader] = []

    /// Creates a parser waiting for the first request of a connection.
    /// - Parameter limits: The head size and header count limits; the SPEC's by default.
    package init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Bytes appended but not yet consumed by an event.
    ///
    /// A request head counts until its `.head` event (empty lines before a request line do not), so after
    /// `.end` a value of 0 means the connection is idle between requests, and anything more means the next
    /// pipelined request has begun.
    package var bufferedByteCount: Int {
        buffer.count - readIndex
    }

    // MARK: - Input

    /// Adds bytes read from the connection. Ignored once the parser has failed.
    /// - Parameter bytes: The bytes, in the order they arrived.
    package mutating func append(_ bytes: some Collection<UInt8>) {
        guard prepareForAppend() else { return }
        buffer.append(contentsOf: bytes)
    }

    /// Adds bytes read from the connection straight from a read buffer, without an intermediate array.
    /// Ignored once the parser has failed.
    /// - Parameter bytes: The bytes, in the order they arrived.
    package mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard prepareForAppend() else { return }
        buffer.append(contentsOf: bytes)
    }

    /// Compacts consumed bytes away when that is cheap; returns `false` when the parser has failed.
    private mutating func prepareForAppend() -> Bool {
        if case .failed = state { return false }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
            lineStart = 0
            scanIndex = 0
        } else if readIndex >= Self.compactionThreshold && readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
            lineStart -= readIndex
            scanIndex -= readIndex
            readIndex = 0
        }
        return true
    }

    /// Marks `count` bytes after `lineStart` as consumed and restarts line searches after them.
    mutating func consume(_ count: Int) {
        lineStart += count
        readIndex = lineStart
        scanIndex = lineStart
    }

    /// Moves past a parsed head line of `count` bytes without consuming it: the head is consumed as a whole
    /// when it is complete.
    mutating func advanceLine(_ count: Int) {
        lineStart += count
        scanIndex = lineStart
    }

    // MARK: - Events

    /// Returns the next event, or `nil` when more input is needed. After `.end` the next request (pipelining)
    /// starts.
    ///
    /// Body chunks hold whatever body bytes are buffered: never past the declared `Content-Length`, and only
    /// chunk data for chunked bodies.
    /// - Throws: `HTTPParseError` with status 400 (malformed), 431 (head or trailers over `limits`) or 505
    ///   (HTTP major version other than 1). Once thrown, every later call throws the same error.
    package mutating func next() throws(HTTPParseError) -> HTTPParserEvent? {
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    /// Advances through the state machine until an event is ready or input runs out.
    private mutating func step() throws(HTTPParseError) -> HTTPParserEvent? {
        while true {
            switch state {
            case .failed(let error):
                throw error

            case .requestLine, .headerLines:
                let head: HTTPRequestHead
                switch try parseHeadLine() {
                case .needMoreInput: return nil
                case .lineConsumed: continue
                case .complete(let complete): head = complete
                }
                switch head.framing {
                case .none: state = .fixedBody(remaining: 0)
                case .contentLength(let length): state = .fixedBody(remaining: length)
                case .chunked: state = .chunkSize
                }
                return .head(head)

            case .fixedBody(let remaining):
                if remaining == 0 {
                    state = .requestLine
                    return .end
                }
                guard let chunk = takeBody(upTo: remaining) else { return nil }
                state = .fixedBody(remaining: remaining - chunk.count)
                return .body(chunk)

            case .chunkSize:
                guard let size = try parseChunkSizeLine() else { return nil }
                if size == 0 {
                    sectionByteCount = 0
                    sectionLineCount = 0
                    state = .trailerLines
                } else {
                    state = .chunkData(remaining: size)
                }

            case .chunkData(let remaining):
                guard let chunk = takeBody(upTo: remaining) else { return nil }
                let left = remaining - chunk.count
                state = left == 0 ? .chunkDataEnd : .chunkData(remaining: left)
                return .body(chunk)

            case .chunkDataEnd:
                guard try parseChunkDataEnd() else { return nil }
                state = .chunkSize

            case .trailerLines:
                guard let finished = try parseTrailerLine() else { return nil }
                if finished {
                    state = .requestLine
                    return .end
                }
            }
        }
    }

    /// Copies up to `limit` buffered body bytes out and consumes them; `nil` when nothing is buffered.
    private mutating func takeBody(upTo limit: Int) -> [UInt8]? {
        let count = min(limit, buffer.count - readIndex)
        guard count > 0 else { return nil }
        let chunk = Array(buffer[readIndex..<(readIndex + count)])
        consume(count)
        return chunk
    }
}
