// The one cross-thread hand-off (STYLE.md §6.30): a Mutex-protected FIFO plus an eventfd wake-up.

import Synchronization

/// A first-in, first-out queue from any number of producer threads to one consumer, which is woken through an
/// eventfd: an `EventLoop` (through its `EventLoopWaker`) or a thread blocking on a `WakeupSignal`.
///
/// Producers `push`; the consumer `drain`s when woken. Wake-ups are sent only when the consumer may not know
/// about the elements yet: the first push after a drain that emptied the queue wakes it, later pushes don't
/// (one syscall per batch, not per element). A `drain(max:)` that leaves elements behind wakes the consumer
/// again, so nothing is stranded.
///
/// Elements pushed by one thread are drained in the order it pushed them.
// Sendable without `@unchecked`: all mutable state is inside a `Mutex`, and the wake-up target is Sendable.
package final class HandoffQueue<Element: Sendable>: Sendable {
    private struct State {
        /// Elements at `head...` are queued; those before it were drained and are released on compaction.
        var buffer: [Element?] = []
        var head = 0
        /// Whether the consumer was woken and has not drained the queue empty since.
        var wakePending = false

        var count: Int {
            buffer.count - head
        }
    }

    private let state = Mutex(State())
    private let signal: WakeupSignal?

    /// Creates a queue consumed by the `EventLoop` that `waker` wakes; drain it from an `onWake(_:)` callback.
    ///
    /// - Parameter waker: the consumer loop's waker; `nil` sends no wake-ups (the consumer drains on its own
    ///   schedule, e.g. from a timer).
    package init(waker: EventLoopWaker?) {
        signal = waker?.shared.signal
    }

    /// Creates a queue consumed by a thread that is not an `EventLoop`: it blocks in `signal.wait(timeout:)`, or
    /// polls `signal.fileDescriptor` together with its other descriptors, then drains.
    ///
    /// - Parameter signal: raised when elements arrive.
    package init(signal: WakeupSignal) {
        self.signal = signal
    }

    /// Appends `element` and wakes the consumer if needed. Any thread; never blocks on I/O.
    package func push(_ element: Element) {
        let wake = state.withLock { state in
            state.buffer.append(element)
            guard !state.wakePending else { return false }
            state.wakePending = true
            return true
        }
        if wake { signal?.signal() }
    }

    /// Removes and returns up to `max` elements, oldest first. On the consumer's thread.
    ///
    /// - Parameter max: the most elements to take (at least 1); the rest stay queued, and the consumer is woken
    ///   again for them.
    /// - Returns: the drained elements; empty if there were none.
    package func drain(max: Int = .max) -> [Element] {
        drain(max: max, budget: .max) { _ in 0 }
    }

    /// Removes and returns up to `max` elements, oldest first, stopping before the one that would take the
    /// summed `cost` over `budget` (the first element is always taken, whatever its cost).
    package func drain(max: Int, budget: Int, cost: (Element) -> Int) -> [Element] {
        precondition(max > 0, "HandoffQueue.drain(max:) needs max > 0")
        let (elements, wakeAgain): ([Element], Bool) = state.withLock { state in
            var taken = 0
            var spent = 0
            while taken < Swift.min(max, state.count), let next = state.buffer[state.head + taken] {
                spent += cost(next)
                if taken > 0 && spent > budget { break }
                taken += 1
            }
            var elements: [Element] = []
            elements.reserveCapacity(taken)
            for index in state.head..<(state.head + taken) {
                if let element = state.buffer[index].take() {
                    elements.append(element)
                }
            }
            state.head += taken
            if state.head == state.buffer.count {
                state.buffer.removeAll(keepingCapacity: state.buffer.count <= 4096)
                state.head = 0
            } else if state.head > state.buffer.count / 2 {
                // Compact once the drained prefix outgrows what is left: amortised O(1) per element.
                state.buffer.removeFirst(state.head)
                state.head = 0
            }
            guard state.count == 0 else { return (elements, true) }
            state.wakePending = false
            return (elements, false)
        }
        if wakeAgain { signal?.signal() }
        return elements
    }

    /// The number of queued elements (a snapshot: producers may push at any moment).
    package var count: Int {
        state.withLock { $0.count }
    }
}
