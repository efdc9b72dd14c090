import Glibc
import Posix
import Synchronization
import Testing

/// An `EventHandler` that runs a closure.
final class BlockHandler: EventHandler {
    let body: (EpollEvents) -> Void

    init(_ body: @escaping (EpollEvents) -> Void) {
        self.body = body
    }

    func handle(_ events: EpollEvents) {
        body(events)
    }
}

extension EventLoop {
    /// Runs until stopped, or stops itself after `limit` so a broken test fails instead of hanging.
    func run(failingAfter limit: Duration) {
        let guardTimer = schedule(after: limit) { [unowned self] in
            Issue.record("event loop test did not finish within \(limit)")
            self.stop()
        }
        run()
        cancel(guardTimer)
    }
}

@Suite struct EventLoopTests {
    @Test func acceptsARealConnectionWhenTheListenerBecomesReadable() throws {
        let loop = try EventLoop()
        let listener = try Socket.listen(on: SocketAddress(parsing: "127.0.0.1:0"), reusePort: true)
        defer { listener.close() }
        var accepted: [(Socket, SocketAddress)] = []
        var reported: EpollEvents = []
        try loop.register(
            listener.fileDescriptor, interest: .readable,
            handler: BlockHandler { events in
                reported.formUnion(events)
                while let connection = try? listener.accept() {
                    accepted.append(connection)
                }
                if !accepted.isEmpty { loop.stop() }
            })
        #expect(loop.isRegistered(listener.fileDescriptor))

        let client = try Socket.connect(to: listener.localAddress)
        defer { client.close() }
        loop.run(failingAfter: .seconds(30))

        loop.unregister(listener.fileDescriptor)
        #expect(loop.registeredCount == 0)
        #expect(reported.contains(.readable))
        #expect(accepted.count == 1)
        for (connection, peer) in accepted {
            #expect(peer == (try client.localAddress))
            connection.close()
        }
    }

    @Test func readinessDrivesANonBlockingEchoAndEndOfStream() throws {
        let loop = try EventLoop()
        let listener = try Socket.listen(on: SocketAddress(parsing: "127.0.0.1:0"), reusePort: false)
        defer { listener.close() }
        let client = try Socket.connect(to: listener.localAddress)
        defer { client.close() }
        let (server, _) = try acceptOne(listener)
        defer { server.close() }

        let message = Array("hello, loop".utf8)
        var pending: [UInt8] = []
        var echoed = 0
        var sawEndOfStream = false
        try loop.register(
            server.fileDescriptor, interest: .readable,
            handler: BlockHandler { events in
                if events.contains(.readable) {
                    var buffer = [UInt8](repeating: 0, count: 16)
                    while let count = try? buffer.withUnsafeMutableBytes({ try server.read(into: $0) }) {
                        if count == 0 {
                            sawEndOfStream = true
                            loop.unregister(server.fileDescriptor)
                            loop.stop()
                            return
                        }
                        pending += buffer.prefix(count)
                    }
                    if !pending.isEmpty { try? loop.modify(server.fileDescriptor, interest: [.readable, .writable]) }
                }
                if events.contains(.writable) && !pending.isEmpty {
                    let written = (try? pending.withUnsafeBytes { try server.write($0) }) ?? nil
                    pending.removeFirst(written ?? 0)
                    echoed += written ?? 0
                    if pending.isEmpty { try? loop.modify(server.fileDescriptor, interest: .readable) }
                    if echoed == message.count { loop.stop() }
                }
            })

        #expect(try message.withUnsafeBytes { try client.write($0) } == message.count)
        loop.run(failingAfter: .seconds(30))
        #expect(echoed == message.count)

        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while received.count < message.count && waitUntilReadable(client.fileDescriptor) {
            let count = try #require(try buffer.withUnsafeMutableBytes { try client.read(into: $0) })
            if count == 0 { break }
            received += buffer.prefix(count)
        }
        #expect(received == message)

        client.shutdownWrite()
        loop.run(failingAfter: .seconds(30))
        #expect(sawEndOfStream)
        #expect(!loop.isRegistered(server.fileDescriptor))
    }

    @Test func timersFireInDeadlineOrderAndCancelledOnesDoNot() throws {
        let loop = try EventLoop()
        var fired: [String] = []
        loop.schedule(after: .milliseconds(30)) { fired.append("30ms") }
        loop.schedule(after: .milliseconds(10)) { fired.append("10ms") }
        let cancelled = loop.schedule(after: .milliseconds(15)) { fired.append("15ms (cancelled)") }
        loop.schedule(after: .milliseconds(20)) { fired.append("20ms") }
        let sameDeadline = loop.now + .milliseconds(5)
        loop.schedule(at: sameDeadline) { fired.append("5ms A") }
        loop.schedule(at: sameDeadline) { fired.append("5ms B") }
        loop.schedule(after: .milliseconds(40)) { loop.stop() }
        loop.cancel(cancelled)
        loop.cancel(cancelled)  // cancelling twice is harmless
        #expect(loop.pendingTimerCount == 6)

        loop.run(failingAfter: .seconds(30))
        #expect(fired == ["5ms A", "5ms B", "10ms", "20ms", "30ms"])
        #expect(loop.pendingTimerCount == 0)
    }

    @Test func manyCancelledTimersAreCompactedAndTheRestStillFire() throws {
        let loop = try EventLoop()
        var fired = 0
        let ids = (0..<1000).map { _ in loop.schedule(after: .seconds(3600)) { fired += 1000 } }
        loop.schedule(after: .milliseconds(1)) { fired += 1 }
        for id in ids { loop.cancel(id) }
        loop.schedule(after: .milliseconds(2)) { loop.stop() }
        loop.run(failingAfter: .seconds(30))
        #expect(fired == 1)
        #expect(loop.pendingTimerCount == 0)
    }

    @Test func zeroDelayTimersScheduledByATimerWaitForTheNextIteration() throws {
        let loop = try EventLoop()
        var rounds = 0
        func again() {
            rounds += 1
            if rounds < 100 { loop.schedule(after: .zero, again) } else { loop.stop() }
        }
        loop.schedule(after: .zero, again)
        loop.run(failingAfter: .seconds(30))
        #expect(rounds == 100)
    }

    @Test func executeRunsLaterOnTheLoopThreadInOrder() throws {
        let loop = try EventLoop()
        let runner = pthread_self()
        var order: [Int] = []
        var threads: [pthread_t] = []
        loop.execute {
            order.append(1)
            threads.append(pthread_self())
            loop.execute {
                order.append(3)
                loop.stop()
            }
        }
        loop.execute { order.append(2) }
        #expect(order.isEmpty, "execute must not run the body synchronously")
        loop.run(failingAfter: .seconds(30))
        #expect(order == [1, 2, 3])
        #expect(threads.count == 1 && pthread_equal(threads[0], runner) != 0)
    }

    @Test func wakerStopFromAnotherThreadMakesRunReturn() throws {
        let loop = try EventLoop()
        let waker = loop.waker
        let running = try WakeupSignal()
        loop.execute { running.signal() }
        let stopper = try startThread(name: "stopper") {
            // Stop only once the loop is running and about to block in epoll_wait with no timer.
            guard running.wait(timeout: .seconds(30)) else { return }
            waker.stop()
        }
        loop.run()  // no guard timer: nothing but the other thread can end this
        stopper.join()
    }

    @Test func stopRequestedBeforeRunMakesItReturnAndIsThenCleared() throws {
        let loop = try EventLoop()
        loop.waker.stop()
        loop.run()
        var ran = false
        loop.execute {
            ran = true
            loop.stop()
        }
        loop.run(failingAfter: .seconds(30))
        #expect(ran)
    }

    @Test func wakeFromAnotherThreadRunsOnWakeCallbacks() throws {
        let waker = try EventLoopWaker()
        let loop = try EventLoop(waker: waker)
        var wakes = 0
        loop.onWake {
            wakes += 1
            loop.stop()
        }
        let thread = try startThread(name: "waker") { waker.wake() }
        loop.run(failingAfter: .seconds(30))
        thread.join()
        #expect(wakes >= 1)
    }

    @Test func eventsForADescriptorUnregisteredEarlierInTheSameBatchAreDropped() throws {
        let loop = try EventLoop()
        let first = try WakeupSignal()
        let second = try WakeupSignal()
        first.signal()
        second.signal()
        var calls = 0
        // Whichever handler runs first unregisters the other; the other's already-reported event is dropped.
        let handlerA = BlockHandler { _ in
            calls += 1
            if loop.isRegistered(second.fileDescriptor) { loop.unregister(second.fileDescriptor) }
            if loop.isRegistered(first.fileDescriptor) { loop.unregister(first.fileDescriptor) }
            loop.stop()
        }
        try loop.register(first.fileDescriptor, interest: .readable, handler: handlerA)
        try loop.register(second.fileDescriptor, interest: .readable, handler: handlerA)
        loop.run(failingAfter: .seconds(30))
        #expect(calls == 1)
        #expect(loop.registeredCount == 0)
    }
}
