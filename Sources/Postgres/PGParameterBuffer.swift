import Glibc

/// Lays out statement parameters the way `PQexecParams` wants them (values, lengths, formats) in memory
/// that lives exactly for one call. The one place where Swift values become C pointers for libpq
/// (STYLE.md §6.14).
enum PGParameterBuffer {
    /// `PQexecParams` format codes.
    private static let textFormat: Int32 = 0
    private static let binaryFormat: Int32 = 1

    static func with<R>(
        _ parameters: [PGValue],
        _ body: (
            _ count: Int32, _ values: UnsafePointer<UnsafePointer<CChar>?>?, _ lengths: UnsafePointer<Int32>?,
            _ formats: UnsafePointer<Int32>?
        ) -> R
    ) -> R {
        if parameters.isEmpty { return body(0, nil, nil, nil) }
        var values: [UnsafeMutablePointer<CChar>?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        values.reserveCapacity(parameters.count)
        defer { values.forEach { free($0) } }
        for parameter in parameters {
            switch parameter {
            case .null:
                values.append(nil)
                lengths.append(0)
                formats.append(textFormat)
            case .text(let text):
                values.append(strdup(text))
                lengths.append(0)
                formats.append(textFormat)
            case .bytes(let bytes):
                // malloc(0) may return NULL, which libpq would read as SQL NULL: allocate at least one byte.
                let buffer = malloc(max(bytes.count, 1))?.assumingMemoryBound(to: CChar.self)
                bytes.withUnsafeBytes { source in
                    if let buffer, let base = source.baseAddress { memcpy(buffer, base, bytes.count) }
                }
                values.append(buffer)
                lengths.append(Int32(bytes.count))
                formats.append(binaryFormat)
            }
        }
        return values.withUnsafeMutableBufferPointer { valueBuffer in
            valueBuffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { rebound in
                lengths.withUnsafeBufferPointer { lengthBuffer in
                    formats.withUnsafeBufferPointer { formatBuffer in
                        body(
                            Int32(parameters.count), UnsafePointer(rebound.baseAddress), lengthBuffer.baseAddress,
                            formatBuffer.baseAddress)
                    }
                }
            }
        }
    }
}
