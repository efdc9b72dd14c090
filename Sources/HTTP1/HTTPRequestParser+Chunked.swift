// MARK: - Chunked transfer coding (RFC 9112 §7.1)

extension HTTPRequestParser {
    /// Consumes a `chunk-size [ chunk-ext ] CRLF` line and returns the size, or `nil` when it has not fully
    /// arrived. Extensions are validated loosely (no control bytes) and ignored.
    /// - Throws: `HTTPParseError` with `.badRequest` for an empty, non-hexadecimal or overflowing size, stray
    ///   bytes after it, or a line over `maxChunkSizeLineBytes`.
    mutating func parseChunkSizeLine() throws(HTTPParseError) -> Int? {
        guard let range = try nextLine(limit: Self.maxChunkSizeLineBytes, kind: .chunkSize) else { return nil }
        let size = try buffer.withUnsafeBufferPointer { (all) throws(HTTPParseError) -> Int in
            let line = UnsafeBufferPointer(rebasing: all[range])
            var size = 0
            var index = 0
            while index < line.count, let digit = ASCII.hexValue(line[index]) {
                let (shifted, overflowA) = size.multipliedReportingOverflow(by: 16)
                let (sum, overflowB) = shifted.addingReportingOverflow(digit)
                if overflowA || overflowB {
                    throw .badRequest("A chunk size is too large.")
                }
                size = sum
                index += 1
            }
            guard index > 0 else {
                throw .badRequest("A chunk size is not a hexadecimal number.")
            }
            // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ): whitespace only before a ';'.
            var extensionStart = index
            while extensionStart < line.count && ASCII.isWhitespace(line[extensionStart]) { extensionStart += 1 }
            if extensionStart < line.count {
                guard line[extensionStart] == ASCII.semicolon else {
                    throw .badRequest("A chunk size is followed by something other than an extension.")
                }
                guard line[(extensionStart + 1)...].allSatisfy(ASCII.isFieldValueByte) else {
                    throw .badRequest("A chunk extension contains a control character.")
                }
            } else if extensionStart != index {
                throw .badRequest("A chunk size is followed by whitespace.")
            }
            return size
        }
        consume(range.count + 2)
        return size
    }

    /// Consumes the CRLF that must follow chunk data; `false` when it has not fully arrived.
    /// - Throws: `HTTPParseError` with `.badRequest` when anything else follows the chunk data (the declared
    ///   size and the data disagree, a classic smuggling attempt).
    mutating func parseChunkDataEnd() throws(HTTPParseError) -> Bool {
        let available = buffer.count - readIndex
        guard available > 0 else { return false }
        guard buffer[readIndex] == ASCII.cr, available == 1 || buffer[readIndex + 1] == ASCII.lf else {
            throw .badRequest("Chunk data is not followed by CRLF.")
        }
        guard available >= 2 else { return false }
        consume(2)
        return true
    }
}
