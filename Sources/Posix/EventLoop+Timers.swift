// Timers of an EventLoop: a min-heap of deadlines on the continuous clock, with lazy cancellation.

/// Identifies a timer scheduled with `EventLoop.schedule(after:_:)`, for `EventLoop.cancel(_:)`.
package struct TimerID: Hashable, Sendable {
    fileprivate let sequence: UInt64
}

extension EventLoop {
    /// Runs `body` on this loop's thread once `delay` has passed (at the first iteration after the deadline).
    ///
    /// Timers with the same deadline fire in the order they were scheduled. `epoll_wait` sleeps at most until
    /// the earliest deadline (rounded up to a millisecond).
    ///
    /// - Parameters:
    ///   - delay: how long from now; zero or negative means the next iteration.
    ///   - body: what to run; held until it fires or is cancelled.
    /// - Returns: an ID for `cancel(_:)`.
    @discardableResult
    package func schedule(after delay: Duration, _ body: @escaping () -> Void) -> TimerID {
        schedule(at: .now + delay, body)
    }

    /// Runs `body` on this loop's thread at the first iteration after `deadline`.
    ///
    /// - Parameters:
    ///   - deadline: when, on the continuous clock (compare `now`).
    ///   - body: what to run; held until it fires or is cancelled.
    /// - Returns: an ID for `cancel(_:)`.
    @discardableResult
    package func schedule(at deadline: ContinuousClock.Instant, _ body: @escaping () -> Void) -> TimerID {
        timers.insert(deadline: deadline, body)
    }

    /// Cancels a timer so it never fires; does nothing if it already fired or was cancelled.
    package func cancel(_ timer: TimerID) {
        timers.cancel(timer)
    }

    /// The number of timers that have neither fired nor been cancelled.
    package var pendingTimerCount: Int {
        timers.count
    }

    /// Fires the timers due at `now`, earliest first. Timers scheduled while firing wait for the next iteration,
    /// so a timer that reschedules itself with zero delay cannot starve I/O.
    func fireDueTimers() {
        let limit = timers.nextSequence
        while let body = timers.popDue(at: now, scheduledBefore: limit) {
            body()
        }
    }
}

/// The timers of one loop: a binary min-heap ordered by (deadline, sequence) plus the bodies by ID.
///
/// Cancelling removes only the body; its heap entry is skipped when it surfaces. When dead entries outnumber
/// live ones the heap is rebuilt, so many cancelled long timeouts (one per request) cannot pile up.
struct TimerQueue {
    private struct Entry {
        var deadline: ContinuousClock.Instant
        var id: TimerID

        func fires(before other: Entry) -> Bool {
            (deadline, id.sequence) < (other.deadline, other.id.sequence)
        }
    }

    private var heap: [Entry] = []
    private var bodies: [TimerID: () -> Void] = [:]
    private(set) var nextSequence: UInt64 = 0

    /// Live timers.
    var count: Int {
        bodies.count
    }

    mutating func insert(deadline: ContinuousClock.Instant, _ body: @escaping () -> Void) -> TimerID {
        let id = TimerID(sequence: nextSequence)
        nextSequence += 1
        bodies[id] = body
        heap.append(Entry(deadline: deadline, id: id))
        siftUp(heap.count - 1)
        return id
    }

    mutating func cancel(_ id: TimerID) {
        guard bodies.removeValue(forKey: id) != nil else { return }
        if heap.count > 64 && heap.count > 2 * bodies.count {
            rebuild()
        }
    }

    /// The earliest live deadline, discarding cancelled entries on top.
    mutating func nextDeadline() -> ContinuousClock.Instant? {
        dropCancelledTop()
        return heap.first?.deadline
    }

    /// Removes and returns the earliest live timer's body if it is due at `now` and was scheduled before
    /// `limit`.
    mutating func popDue(at now: ContinuousClock.Instant, scheduledBefore limit: UInt64) -> (() -> Void)? {
        dropCancelledTop()
        guard let top = heap.first, top.deadline <= now, top.id.sequence < limit else { return nil }
        removeTop()
        return bodies.removeValue(forKey: top.id)
    }

    private mutating func dropCancelledTop() {
        while let top = heap.first, bodies[top.id] == nil {
            removeTop()
        }
    }

    private mutating func removeTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func rebuild() {
        heap.removeAll { bodies[$0.id] == nil }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) {
            siftDown(index)
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].fires(before: heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var first = parent
            if left < heap.count && heap[left].fires(before: heap[first]) { first = left }
            if right < heap.count && heap[right].fires(before: heap[first]) { first = right }
            guard first != parent else { return }
            heap.swapAt(parent, first)
            parent = first
        }
    }
}
