internal import CLinux
import Synchronization

/// The kernel's CSPRNG (getrandom(2)), fetched 512 bytes at a time and each byte used once.
/// `SystemRandomNumberGenerator` makes one system call per 8 bytes: two per delivery id, on the event loop.
package enum SecureRandom {
    private static let pool = Mutex(Pool())

    /// Two random 64-bit words.
    package static func twoWords() -> (UInt64, UInt64) {
        pool.withLock { $0.nextPair() }
    }

    private struct Pool {
        var words = [UInt64](repeating: 0, count: 64)
        var next = 64

        mutating func nextPair() -> (UInt64, UInt64) {
            if next + 2 > words.count { refill() }
            defer { next += 2 }
            return (words[next], words[next + 1])
        }

        private mutating func refill() {
            words.withUnsafeMutableBytes { buffer in
                guard let base = buffer.baseAddress else { return }  // 512 bytes: never nil
                var filled = 0
                while filled < buffer.count {
                    do {
                        filled += try syscall("getrandom") {
                            getrandom(base + filled, buffer.count - filled, 0)
                        }
                    } catch {
                        // Not expected on Linux ≥ 3.17: the standard library's generator then (it aborts
                        // rather than return predictable bytes).
                        var generator = SystemRandomNumberGenerator()
                        for index in filled..<buffer.count { buffer[index] = generator.next() }
                        filled = buffer.count
                    }
                }
            }
            next = 0
        }
    }
}
