/// Bytes queued for a non-blocking stream that did not take them all at once: the answer being written,
/// then any queued behind it. The webhook port (through TLS) and the admin port (plain) both use it, and
/// both stop reading while it is not empty (backpressure against a client that does not read).
package struct PendingWrites {
    private var bytes: [UInt8] = []
    private var offset = 0
    /// Buffers above this are released once drained instead of kept for the next answer.
    private static let keptCapacity = 65_536

    package init() {}

    /// One write attempt's result, as the stream reports it.
    package enum Step {
        case wrote(Int)
        /// The stream takes nothing now (EAGAIN, or TLS wants to read or write first).
        case wouldBlock
        /// The stream is closed or broken.
        case failed
    }

    /// How a flush ended.
    package enum Flush: Equatable {
        case drained, wouldBlock, failed
    }

    /// True when nothing is waiting to be written.
    package var isEmpty: Bool { offset >= bytes.count }

    /// Bytes still waiting.
    package var count: Int { bytes.count - offset }

    /// Queues `more` behind what is waiting (taking it over without a copy when nothing is).
    package mutating func append(_ more: [UInt8]) {
        if isEmpty {
            bytes = more
            offset = 0
        } else {
            bytes.append(contentsOf: more)
        }
    }

    /// Writes through `write` until everything is written, the stream would block, or it fails.
    package mutating func flush(_ write: (UnsafeRawBufferPointer) -> Step) -> Flush {
        while offset < bytes.count {
            let step = bytes.withUnsafeBytes { buffer in write(UnsafeRawBufferPointer(rebasing: buffer[offset...])) }
            switch step {
            case .wrote(let count): offset += count
            case .wouldBlock: return .wouldBlock
            case .failed: return .failed
            }
        }
        bytes.removeAll(keepingCapacity: bytes.capacity <= Self.keptCapacity)
        offset = 0
        return .drained
    }
}
