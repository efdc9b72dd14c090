import Posix
import Testing

@Suite("Pending writes")
struct PendingWritesTests {
    /// A stream that takes at most `chunk` bytes per call, and nothing after `capacity` bytes.
    struct Stream {
        var received: [UInt8] = []
        var chunk: Int
        var capacity: Int
        var broken = false

        mutating func write(_ buffer: UnsafeRawBufferPointer) -> PendingWrites.Step {
            if broken { return .failed }
            let room = min(chunk, capacity - received.count, buffer.count)
            guard room > 0 else { return .wouldBlock }
            received.append(contentsOf: buffer[0..<room])
            return .wrote(room)
        }
    }

    @Test func partialWritesResumeWhereTheyStoppedAndKeepOrder() {
        var pending = PendingWrites()
        var stream = Stream(chunk: 3, capacity: 5)
        pending.append(Array("hello world".utf8))
        #expect(pending.flush { stream.write($0) } == .wouldBlock)
        #expect(pending.count == 6)
        pending.append(Array("!".utf8))
        stream.capacity = 100
        #expect(pending.flush { stream.write($0) } == .drained)
        #expect(pending.isEmpty)
        #expect(stream.received == Array("hello world!".utf8))
    }

    @Test func aBrokenStreamIsReportedAndTheBytesStay() {
        var pending = PendingWrites()
        var stream = Stream(chunk: 10, capacity: 10, broken: true)
        pending.append([1, 2, 3])
        #expect(pending.flush { stream.write($0) } == .failed)
        #expect(pending.count == 3)
    }

    @Test func anEmptyQueueIsDrainedWithoutWriting() {
        var pending = PendingWrites()
        var calls = 0
        #expect(
            pending.flush { _ in
                calls += 1; return .failed
            } == .drained)
        #expect(calls == 0)
    }
}
