import Glibc
import Posix
import Synchronization
import Testing

@Suite struct HandoffQueueTests {
    struct Item: Sendable, Hashable {
        var producer: Int
        var sequence: Int
    }

    @Test func fourProducersDeliverEveryElementExactlyOnceToAWokenLoop() throws {
        let producers = 4
        let perProducer = 10_000
        let loop = try EventLoop()
        let queue = HandoffQueue<Item>(waker: loop.waker)
        var received: [Item] = []
        received.reserveCapacity(producers * perProducer)
        var wakeCount = 0
        loop.onWake {
            wakeCount += 1
            received += queue.drain()
            if received.count >= producers * perProducer { loop.stop() }
        }

        let threads = try (0..<producers).map { producer in
            try startThread(name: "producer-\(producer)") {
                for sequence in 0..<perProducer {
                    queue.push(Item(producer: producer, sequence: sequence))
                }
            }
        }
        loop.run(failingAfter: .seconds(60))
        for thread in threads { thread.join() }

        #expect(received.count == producers * perProducer)
        #expect(Set(received).count == received.count, "no duplicates")
        for producer in 0..<producers {
            let sequences = received.filter { $0.producer == producer }.map(\.sequence)
            #expect(sequences == Array(0..<perProducer), "producer \(producer): all elements, in push order")
        }
        #expect(queue.count == 0)
        #expect(wakeCount >= 1)
    }

    @Test func partialDrainLeavesTheRestAndWakesTheConsumerAgain() throws {
        let signal = try WakeupSignal()
        let queue = HandoffQueue<Int>(signal: signal)
        for value in 0..<5 { queue.push(value) }
        #expect(signal.consume(), "the first push wakes the consumer")
        #expect(queue.count == 5)
        #expect(queue.drain(max: 2) == [0, 1])
        #expect(signal.consume(), "elements left behind re-raise the signal")
        #expect(queue.drain() == [2, 3, 4])
        #expect(!signal.consume(), "an emptied queue does not")
        #expect(queue.drain().isEmpty)
        queue.push(5)
        #expect(signal.consume())
        #expect(queue.drain() == [5])
    }

    @Test func onlyTheFirstPushAfterAnEmptyingDrainSignals() throws {
        let signal = try WakeupSignal()
        let queue = HandoffQueue<Int>(signal: signal)
        queue.push(1)
        #expect(signal.consume())
        queue.push(2)
        #expect(!signal.consume(), "the consumer already knows the queue is not empty")
        #expect(queue.drain() == [1, 2])
    }

    @Test func aBlockingConsumerThreadReceivesEverything() throws {
        let signal = try WakeupSignal()
        let queue = HandoffQueue<Int>(signal: signal)
        let results = HandoffQueue<[Int]>(waker: nil)
        let total = 5_000
        let consumer = try startThread(name: "writer") {
            var seen: [Int] = []
            let deadline = ContinuousClock.now + .seconds(60)
            while seen.count < total && ContinuousClock.now < deadline {
                _ = signal.wait(timeout: .seconds(1))
                seen += queue.drain(max: 100)
            }
            results.push(seen)
        }
        for value in 0..<total { queue.push(value) }
        consumer.join()
        #expect(results.drain() == [Array(0..<total)])
    }

    @Test func queueWithoutWakerStillQueues() {
        let queue = HandoffQueue<String>(waker: nil)
        queue.push("a")
        queue.push("b")
        #expect(queue.count == 2)
        #expect(queue.drain(max: 1) == ["a"])
        #expect(queue.drain() == ["b"])
    }
}

@Suite struct SignalWaiterTests {
    @Test func aBlockedSignalIsReadFromTheSignalFileDescriptor() throws {
        // Block on this thread only and direct the signal at this thread, so no other thread of the test process
        // can receive it (and take SIGHUP's default action).
        var previous = sigset_t()
        var hangup = sigset_t()
        sigemptyset(&hangup)
        sigaddset(&hangup, SIGHUP)
        #expect(pthread_sigmask(SIG_BLOCK, &hangup, &previous) == 0)
        let waiter = try SignalWaiter()
        #expect(waiter.next(timeout: .zero) == nil)
        #expect(pthread_kill(pthread_self(), SIGHUP) == 0)
        let received = waiter.next(timeout: .seconds(30))
        #expect(received == SIGHUP)
        if received == SIGHUP {
            // Only unblock once the signal is consumed, or its default action would end the test process.
            #expect(pthread_sigmask(SIG_SETMASK, &previous, nil) == 0)
        }
    }

    @Test func ignoreSIGPIPEInstallsSIGIGNAndIsIdempotent() {
        ignoreSIGPIPE()
        ignoreSIGPIPE()
        var action = sigaction()
        #expect(sigaction(SIGPIPE, nil, &action) == 0)
        // SIG_IGN is `(__sighandler_t) 1`.
        let handler = action.__sigaction_handler.sa_handler.map { unsafeBitCast($0, to: Int.self) }
        #expect(handler == 1)
    }
}

@Suite("HandoffQueue budgets")
struct HandoffQueueBudgetTests {
    @Test func drainStopsBeforeTheElementThatWouldExceedTheBudgetButAlwaysTakesOne() throws {
        let signal = try WakeupSignal()
        let queue = HandoffQueue<Int>(signal: signal)
        for size in [10, 20, 30, 100, 5] { queue.push(size) }
        #expect(queue.drain(max: 10, budget: 35) { $0 } == [10, 20])
        #expect(queue.drain(max: 10, budget: 35) { $0 } == [30])
        #expect(queue.drain(max: 10, budget: 35) { $0 } == [100])  // larger than the budget: alone
        #expect(queue.drain(max: 10, budget: 35) { $0 } == [5])
        #expect(queue.drain(max: 10, budget: 35) { $0 }.isEmpty)
    }
}
