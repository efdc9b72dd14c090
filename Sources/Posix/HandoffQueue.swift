// The one cross-thread hand-off (STYLE.md §6.30): a Mutex-protected FIFO plus an eventfd wake-up.

public import Synchronization

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
// Public and `@inlinable`: the queue is generic and used from other modules, which otherwise ran its
// unspecialised form (runtime metadata lookups on every push and drain: ~10k instructions per delivery).
// Swift 6.3 did not specialise an `@inlinable package` method in a client module; a public one it does.
public final class HandoffQueue<Element: Sendable>: Sendable {
    @usableFromInline
    struct State {
        /// Elements at `head...` are queued; those before it were drained and are released on compaction.
        @usableFromInline var buffer: [Element?] = []
        @usableFromInline var head = 0
        /// Whether the consumer was woken and has not drained the queue empty since.
        @usableFromInline var wakePending = false

        @usableFromInline init() {}

        @inlinable var count: Int {
            buffer.count - head
        }
    }

    @usableFromInline let state: Mutex<State> = Mutex(State())
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
    @inlinable
    public func push(_ element: Element) {
        let wake = state.withLock { state in
            state.buffer.append(element)
            guard !state.wakePending else { return false }
            state.wakePending = true
            return true
        }
        if wake { wakeConsumer() }
    }

    /// Removes and returns up to `max` elements, oldest first. On the consumer's thread.
    ///
    /// - Parameter max: the most elements to take (at least 1); the rest stay queued, and the consumer is woken
    ///   again for them.
    /// - Returns: the drained elements; empty if there were none.
    @inlinable
    public func drain(max: Int = .max) -> [Element] {
        drain(max: max, budget: .max) { _ in 0 }
    }

    /// Removes and returns up to `max` elements, oldest first, stopping before the one that would take the
    /// summed `cost` over `budget` (the first element is always taken, whatever its cost).
    @inlinable
    public func drain(max: Int, budget: Int, cost: (Element) -> Int) -> [Element] {
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
        if wakeAgain { wakeConsumer() }
        return elements
    }

    /// Not inlinable and not generic: the eventfd write stays in this module.
    @usableFromInline
    func wakeConsumer() {
        signal?.signal()
    }

    /// The number of queued elements (a snapshot: producers may push at any moment).
    @inlinable
    public var count: Int {
        state.withLock { $0.count }
    }
}
