// Cross-thread wake-ups: an eventfd another thread can signal, and the `EventLoopWaker` built on it.

internal import CLinux
import Glibc
import Synchronization

/// `EFD_NONBLOCK | EFD_CLOEXEC`
private let eventFDFlags = Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)
/// `POLLIN`
private let pollReadable = Int16(POLLIN)

/// Owns one eventfd: any thread may `signal()` it; its consumer `consume()`s it or waits on it.
///
/// Signals coalesce: any number of `signal()` calls before a `consume()` count as one wake-up. The descriptor
/// is closed when the last reference goes, so a `signal()` can never hit a reused descriptor number.
///
/// A consumer that is not an `EventLoop` (the delivery writer) can block in `wait(timeout:)`, or add
/// `fileDescriptor` to its own `poll` set next to its database sockets.
// Sendable without `@unchecked`: its only stored property is an immutable Int32, and eventfd reads and writes
// are atomic in the kernel.
package final class WakeupSignal: Sendable {
    /// The eventfd (non-blocking, close-on-exec); readable while signalled. Owned: do not close it.
    package let fileDescriptor: Int32

    /// Creates an unsignalled eventfd.
    ///
    /// - Throws: `SystemError` from `eventfd` (e.g. `EMFILE`).
    package init() throws(SystemError) {
        fileDescriptor = try syscall("eventfd") { eventfd(0, eventFDFlags) }
    }

    deinit {
        closeFileDescriptor(fileDescriptor)
    }

    /// Marks the signal as raised, waking a consumer blocked in `wait(timeout:)`, `poll` or `epoll_wait`.
    /// Callable from any thread; never blocks.
    package func signal() {
        var one: UInt64 = 1
        let descriptor = fileDescriptor
        do {
            // EAGAIN means the counter is at its maximum: the signal is already raised, which is all we want.
            _ = try syscallOrWouldBlock("write(eventfd)") { Glibc.write(descriptor, &one, MemoryLayout<UInt64>.size) }
        } catch {
            preconditionFailure("\(error): an 8-byte write to an owned eventfd cannot fail")
        }
    }

    /// Lowers the signal without blocking.
    ///
    /// - Returns: whether it was raised.
    @discardableResult
    package func consume() -> Bool {
        var counter: UInt64 = 0
        let descriptor = fileDescriptor
        do {
            return try syscallOrWouldBlock("read(eventfd)") {
                Glibc.read(descriptor, &counter, MemoryLayout<UInt64>.size)
            } != nil
        } catch {
            preconditionFailure("\(error): an 8-byte read from an owned eventfd cannot fail")
        }
    }

    /// Blocks until the signal is raised, then lowers it.
    ///
    /// > Warning: blocks the calling thread; never call it from an event loop.
    ///
    /// - Parameter timeout: the longest wait; `nil` waits forever.
    /// - Returns: `true` if the signal was raised, `false` if the timeout passed first.
    package func wait(timeout: Duration?) -> Bool {
        let clock = ContinuousClock()
        let deadline = timeout.map { clock.now + $0 }
        while true {
            if consume() { return true }
            let milliseconds = deadline.map { pollTimeoutMilliseconds(until: $0, now: clock.now) } ?? -1
            var entry = pollfd(fd: fileDescriptor, events: pollReadable, revents: 0)
            do {
                let ready = try syscall("poll(eventfd)") { poll(&entry, 1, milliseconds) }
                if ready == 0 && milliseconds == 0 { return consume() }
            } catch {
                preconditionFailure("\(error): poll on one owned eventfd cannot fail")
            }
        }
    }
}

/// Milliseconds from `now` until `deadline`, rounded up (so a wait never ends early), clamped to 0…Int32.max.
func pollTimeoutMilliseconds(until deadline: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Int32 {
    let remaining = deadline - now
    guard remaining > .zero else { return 0 }
    let (seconds, attoseconds) = remaining.components
    let attosecondsPerMillisecond: Int64 = 1_000_000_000_000_000
    let milliseconds = seconds.multipliedReportingOverflow(by: 1000)
    guard !milliseconds.overflow else { return Int32.max }
    let total = milliseconds.partialValue + (attoseconds + attosecondsPerMillisecond - 1) / attosecondsPerMillisecond
    return Int32(clamping: total)
}

// MARK: - EventLoopWaker

/// Wakes one `EventLoop` from any thread, or asks it to stop; the only part of a loop other threads may hold.
///
/// Create it with the loop (`EventLoop.waker`), or first and pass it to `EventLoop(waker:)` inside the loop's
/// thread, so other threads can hold it before the loop exists. It keeps its eventfd alive on its own, so a
/// waker outliving its loop is harmless (its wake-ups go nowhere).
package struct EventLoopWaker: Sendable {
    /// State shared by all copies of one waker.
    // Sendable without `@unchecked`: immutable references to a Sendable signal and to atomics.
    final class Shared: Sendable {
        let signal: WakeupSignal
        let stopRequested = Atomic<Bool>(false)
        let claimed = Atomic<Bool>(false)

        init(signal: WakeupSignal) {
            self.signal = signal
        }

        var isStopRequested: Bool {
            stopRequested.load(ordering: .acquiring)
        }

        func requestStop() {
            stopRequested.store(true, ordering: .releasing)
        }

        func clearStopRequest() {
            stopRequested.store(false, ordering: .releasing)
        }

        /// Marks the waker as taken by a loop; `false` if another loop has it.
        func claim() -> Bool {
            claimed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        }

        func release() {
            claimed.store(false, ordering: .releasing)
        }
    }

    let shared: Shared

    /// Creates a waker for an `EventLoop` that does not exist yet.
    ///
    /// - Throws: `SystemError` from `eventfd`.
    package init() throws(SystemError) {
        shared = Shared(signal: try WakeupSignal())
    }

    /// Interrupts the loop's `epoll_wait`; the loop then runs its `onWake(_:)` callbacks. Any thread.
    package func wake() {
        shared.signal.signal()
    }

    /// Asks the loop to stop: `run()` returns after the iteration in progress. Any thread.
    ///
    /// A request made while the loop is not running makes its next `run()` return at once.
    package func stop() {
        shared.requestStop()
        shared.signal.signal()
    }
}
