// One epoll set run by one thread: readiness handlers, timers, tasks and cross-thread wake-ups.

internal import CLinux
import Glibc

// epoll constants Swift imports as enum wrappers (STYLE.md §6.16); each named once, here.
/// `EPOLLIN`
private let epollIn = EPOLLIN.rawValue
/// `EPOLLOUT`
private let epollOut = EPOLLOUT.rawValue
/// `EPOLLRDHUP`
private let epollReadHangup = EPOLLRDHUP.rawValue
/// `EPOLLHUP`
private let epollHangup = EPOLLHUP.rawValue
/// `EPOLLERR`
private let epollError = EPOLLERR.rawValue
/// `EPOLL_CLOEXEC`
private let epollCloseOnExec = Int32(EPOLL_CLOEXEC)

/// The `epoll_event.data` of the loop's own eventfd. Registration tokens put a generation in the high 32 bits
/// and the descriptor in the low 32 bits, and no descriptor is `0xFFFF_FFFF` (-1), so this cannot collide.
private let wakeToken = UInt64.max

/// Readiness conditions, for `EventLoop.register(_:interest:handler:)` and `EventHandler.handle(_:)`.
package struct EpollEvents: OptionSet, Sendable, Hashable {
    /// Our own bits (not the `EPOLL*` values), so the C constants stay inside this file.
    package let rawValue: UInt32

    /// Creates a set from its bits; prefer the named members.
    package init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// Data (or a connection, or end of stream) can be read: `EPOLLIN`.
    package static let readable = EpollEvents(rawValue: 1 << 0)
    /// Data can be written: `EPOLLOUT`.
    package static let writable = EpollEvents(rawValue: 1 << 1)
    /// The peer hung up (`EPOLLHUP`, or `EPOLLRDHUP` when asked for in the interest set).
    package static let hangup = EpollEvents(rawValue: 1 << 2)
    /// An error is pending on the descriptor (`EPOLLERR`); reported whether asked for or not.
    package static let error = EpollEvents(rawValue: 1 << 3)

    /// The `epoll_event.events` mask for an interest set (EPOLLHUP and EPOLLERR are always reported).
    var epollMask: UInt32 {
        var mask: UInt32 = 0
        if contains(.readable) { mask |= epollIn }
        if contains(.writable) { mask |= epollOut }
        if contains(.hangup) { mask |= epollReadHangup }
        return mask
    }

    /// The conditions in a reported `epoll_event.events` mask.
    init(epollMask mask: UInt32) {
        self = []
        if mask & epollIn != 0 { insert(.readable) }
        if mask & epollOut != 0 { insert(.writable) }
        if mask & (epollHangup | epollReadHangup) != 0 { insert(.hangup) }
        if mask & epollError != 0 { insert(.error) }
    }
}

/// Receives the readiness events of one registered descriptor, on the loop's thread.
package protocol EventHandler: AnyObject {
    /// Called on the loop thread when the descriptor is ready; may register, modify or unregister any
    /// descriptor, schedule timers and execute tasks.
    ///
    /// - Parameter events: what is ready (possibly `.hangup`/`.error` without having been asked for).
    func handle(_ events: EpollEvents)
}

/// One epoll set, run by exactly one thread. Owns one epoll descriptor.
///
/// Registration is **level-triggered**: a handler is called on every iteration while its descriptor is ready,
/// so it must read until `EAGAIN`, or `modify` its interest (e.g. drop `.writable` once its output is flushed),
/// or `unregister`. Each iteration runs, in order: ready handlers, `onWake(_:)` callbacks (when woken), due
/// timers (in deadline order), then `execute(_:)` tasks.
///
/// The loop holds handlers, timer bodies and tasks strongly until they are unregistered, fired or cancelled,
/// and run; a handler that keeps the loop should hold it `unowned` to avoid a cycle.
///
/// > Warning: not Sendable and not thread-safe. Create it on the thread that runs it (see `init(waker:)`); other
/// > threads reach it only through its `waker`.
package final class EventLoop {
    /// What a registered descriptor wants and who handles it.
    private struct Registration {
        var handler: any EventHandler
        var interest: EpollEvents
        /// `epoll_event.data.u64`: the generation and the descriptor, so an event for a descriptor that was
        /// unregistered (and whose number was reused) earlier in the same batch is recognised and dropped.
        var token: UInt64
    }

    private let epollDescriptor: Int32
    private let events: UnsafeMutableBufferPointer<epoll_event>
    /// Wakes this loop, or asks it to stop, from any thread.
    package let waker: EventLoopWaker
    private var registrations: [Int32: Registration] = [:]
    private var generation: UInt32 = 0
    private var tasks: [() -> Void] = []
    private var wakeCallbacks: [() -> Void] = []
    /// Pending timers; see `EventLoop+Timers.swift`. Internal only so that extension can reach it.
    var timers = TimerQueue()
    private var isRunning = false

    /// The time at the start of the current iteration (after `epoll_wait` returned), on the continuous clock.
    package private(set) var now: ContinuousClock.Instant

    /// Creates a loop with its own waker.
    ///
    /// - Throws: `SystemError` from `epoll_create1`, `eventfd` or `epoll_ctl`.
    package convenience init() throws(SystemError) {
        try self.init(waker: EventLoopWaker())
    }

    /// Creates a loop woken by `waker`, which may already be in other threads' hands.
    ///
    /// A waker belongs to one loop at a time (a precondition).
    ///
    /// - Parameter waker: the waker to listen to; made with `EventLoopWaker()`.
    /// - Throws: `SystemError` from `epoll_create1` or `epoll_ctl`.
    package init(waker: EventLoopWaker) throws(SystemError) {
        epollDescriptor = try syscall("epoll_create1") { epoll_create1(epollCloseOnExec) }
        events = .allocate(capacity: 256)
        self.waker = waker
        now = .now
        precondition(waker.shared.claim(), "EventLoopWaker already belongs to another EventLoop")
        // From here on, deinit closes the epoll descriptor and releases the waker if we throw (STYLE.md §6.18).
        var event = epoll_event(events: epollIn, data: epoll_data_t(u64: wakeToken))
        let epoll = epollDescriptor
        let wakeDescriptor = waker.shared.signal.fileDescriptor
        _ = try syscall("epoll_ctl(ADD, eventfd)") { epoll_ctl(epoll, EPOLL_CTL_ADD, wakeDescriptor, &event) }
    }

    deinit {
        events.deallocate()
        closeFileDescriptor(epollDescriptor)
        waker.shared.release()
    }

    // MARK: - Registration

    /// Starts watching `fd` for `interest`, level-triggered; `handler` is held strongly until `unregister`.
    ///
    /// - Parameters:
    ///   - fd: an open descriptor, not registered yet.
    ///   - interest: the conditions to report; `.hangup` adds `EPOLLRDHUP` (peer shut down writing).
    ///   - handler: called on this loop's thread when `fd` is ready.
    /// - Throws: `SystemError` from `epoll_ctl` (`EEXIST` if already registered, `EPERM` for regular files).
    package func register(_ fd: Int32, interest: EpollEvents, handler: any EventHandler) throws(SystemError) {
        generation &+= 1
        let token = UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
        var event = epoll_event(events: interest.epollMask, data: epoll_data_t(u64: token))
        let epoll = epollDescriptor
        _ = try syscall("epoll_ctl(ADD)") { epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) }
        registrations[fd] = Registration(handler: handler, interest: interest, token: token)
    }

    /// Changes what a registered descriptor is watched for.
    ///
    /// - Parameters:
    ///   - fd: a descriptor registered with this loop (a precondition).
    ///   - interest: the new conditions to report.
    /// - Throws: `SystemError` from `epoll_ctl`.
    package func modify(_ fd: Int32, interest: EpollEvents) throws(SystemError) {
        guard var registration = registrations[fd] else {
            preconditionFailure("EventLoop.modify(\(fd)): descriptor is not registered")
        }
        guard registration.interest != interest else { return }
        var event = epoll_event(events: interest.epollMask, data: epoll_data_t(u64: registration.token))
        let epoll = epollDescriptor
        _ = try syscall("epoll_ctl(MOD)") { epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event) }
        registration.interest = interest
        registrations[fd] = registration
    }

    /// Stops watching `fd` and releases its handler; events for it still pending in this iteration are dropped.
    ///
    /// Call it before closing the descriptor (a precondition: epoll cannot remove a closed descriptor).
    ///
    /// - Parameter fd: a descriptor registered with this loop (a precondition).
    package func unregister(_ fd: Int32) {
        guard registrations.removeValue(forKey: fd) != nil else {
            preconditionFailure("EventLoop.unregister(\(fd)): descriptor is not registered")
        }
        var unused = epoll_event()  // Linux before 2.6.9 wanted a non-null event for EPOLL_CTL_DEL
        let epoll = epollDescriptor
        do {
            _ = try syscall("epoll_ctl(DEL)") { epoll_ctl(epoll, EPOLL_CTL_DEL, fd, &unused) }
        } catch {
            preconditionFailure("EventLoop.unregister(\(fd)): \(error); was the descriptor closed first?")
        }
    }

    /// Whether `fd` is registered with this loop.
    package func isRegistered(_ fd: Int32) -> Bool {
        registrations[fd] != nil
    }

    /// The number of registered descriptors (not counting the loop's own eventfd).
    package var registeredCount: Int {
        registrations.count
    }

    // MARK: - Tasks and wake-ups

    /// Runs `body` on this loop's thread at the end of the next iteration (without waiting for I/O), after
    /// tasks already queued.
    package func execute(_ body: @escaping () -> Void) {
        tasks.append(body)
    }

    /// Adds a callback run on this loop's thread after every wake-up through `waker.wake()`, e.g. to drain a
    /// `HandoffQueue`. Wake-ups coalesce: one callback may cover many `wake()` calls.
    package func onWake(_ body: @escaping () -> Void) {
        wakeCallbacks.append(body)
    }

    /// Asks `run()` to return after the iteration in progress. From the loop's thread; other threads use
    /// `waker.stop()`.
    package func stop() {
        waker.shared.requestStop()
    }

    // MARK: - Running

    /// Runs iterations until a stop is requested (`stop()` or `waker.stop()`), then returns.
    ///
    /// Registrations, pending timers and queued tasks stay as they are: a later `run()` continues with them.
    /// A stop requested before `run()` makes it return after one iteration.
    ///
    /// > Warning: blocks the calling thread, which must be the thread that created the loop; not reentrant.
    package func run() {
        precondition(!isRunning, "EventLoop.run() called while already running")
        isRunning = true
        defer {
            isRunning = false
            waker.shared.clearStopRequest()
        }
        repeat {
            runIteration()
        } while !waker.shared.isStopRequested
    }

    /// One `epoll_wait` and everything it made ready.
    private func runIteration() {
        let timeout = waitTimeoutMilliseconds()
        let epoll = epollDescriptor
        let buffer = events
        let ready: Int32
        do {
            // An EINTR retry waits the full timeout again; worker threads block signals, so this is rare.
            ready = try syscall("epoll_wait") { epoll_wait(epoll, buffer.baseAddress, Int32(buffer.count), timeout) }
        } catch {
            preconditionFailure("\(error): epoll_wait on an owned epoll descriptor cannot fail")
        }
        now = .now

        var woken = false
        for index in 0..<Int(ready) {
            let event = buffer[index]
            let token = event.data.u64
            if token == wakeToken {
                woken = true
                continue
            }
            let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: token))
            // Skip descriptors unregistered (and maybe re-registered) by an earlier handler of this batch.
            guard let registration = registrations[fd], registration.token == token else { continue }
            registration.handler.handle(EpollEvents(epollMask: event.events))
        }

        if woken {
            // Lower the signal before the callbacks look at their queues, so a push after that look wakes us again.
            waker.shared.signal.consume()
            for callback in wakeCallbacks {
                callback()
            }
        }
        fireDueTimers()
        runTasks()
    }

    /// 0 when tasks are waiting, the time to the next timer (rounded up), or -1 (forever).
    private func waitTimeoutMilliseconds() -> Int32 {
        if !tasks.isEmpty || waker.shared.isStopRequested { return 0 }
        guard let deadline = timers.nextDeadline() else { return -1 }
        return pollTimeoutMilliseconds(until: deadline, now: .now)
    }

    /// Runs the tasks queued before this call; tasks they queue run in the next iteration.
    private func runTasks() {
        guard !tasks.isEmpty else { return }
        let batch = tasks
        tasks = []
        for task in batch {
            task()
        }
    }
}
