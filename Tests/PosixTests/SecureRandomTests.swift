import Posix
import Synchronization
import Testing

/// The pooled getrandom(2) bytes behind delivery ids: across pool refills, never repeated and not biased.
@Suite("Secure random")
struct SecureRandomTests {
    @Test func wordsAcrossManyRefillsAreDistinctAndBalanced() {
        var seen = Set<UInt64>()
        var ones = [Int](repeating: 0, count: 64)
        let pairs = 10_000  // 312 refills of the 32-pair pool
        for _ in 0..<pairs {
            let (first, second) = SecureRandom.twoWords()
            seen.insert(first)
            seen.insert(second)
            for bit in 0..<64 where (first >> UInt64(bit)) & 1 == 1 { ones[bit] += 1 }
        }
        #expect(seen.count == 2 * pairs)
        // Each bit is set in about half of 10,000 words; 45–55 % is over 10 standard deviations wide.
        #expect(ones.allSatisfy { (4_500...5_500).contains($0) }, "\(ones)")
    }

    @Test func threadsNeverShareWords() throws {
        let results = Mutex<[UInt64]>([])
        let threads = try (0..<4).map { index in
            try startThread(name: "random-\(index)") {
                var mine: [UInt64] = []
                for _ in 0..<2_000 {
                    let (first, second) = SecureRandom.twoWords()
                    mine += [first, second]
                }
                results.withLock { [mine] in $0 += mine }
            }
        }
        for thread in threads { thread.join() }
        let all = results.withLock { $0 }
        #expect(all.count == 16_000 && Set(all).count == 16_000)
    }
}
