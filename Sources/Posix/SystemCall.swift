// The one place that talks to errno (STYLE.md §1.7): every system call in this module goes through
// `syscall(_:_:)` or `syscallOrWouldBlock(_:_:)`, which retry on EINTR and turn -1 into a `SystemError`.

internal import CLinux
import Glibc
import Synchronization

// MARK: - SystemError

/// A failed system call: which call, and the `errno` it left behind.
///
/// `description` is one line for a person, e.g. `accept4: Too many open files (errno 24)`.
package struct SystemError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The name of the failed call, e.g. `"accept4"` or `"epoll_ctl(ADD)"`.
    package var call: String
    /// The `errno` value the call failed with (for pthread functions: the returned error number).
    package var errno: Int32

    /// Creates an error for `call` failing with `errno`.
    package init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// Whether the call failed only because a non-blocking descriptor had nothing to do
    /// (`EAGAIN`/`EWOULDBLOCK`); try again after the next readiness event.
    package var isWouldBlock: Bool {
        errno == EAGAIN || errno == EWOULDBLOCK
    }

    /// The C library's text for `errno`, e.g. "Too many open files".
    package var reason: String {
        // The XSI strerror_r (the one Glibc exports to Swift) fills the buffer; strerror would share one.
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
            guard let base = buffer.baseAddress, strerror_r(errno, base, buffer.count) == 0 else {
                return "Unknown error \(errno)"
            }
            return String(cString: base)
        }
    }

    package var description: String {
        "\(call): \(reason) (errno \(errno))"
    }
}

// MARK: - The wrappers

/// Runs a system call, retrying while it fails with `EINTR`, and throws its `errno` on any other failure.
///
/// A call "fails" when it returns -1 (for unsigned result types: all bits set, i.e. `(T)-1`).
/// `EAGAIN`/`EWOULDBLOCK` are thrown like any other error; check `SystemError.isWouldBlock`, or use
/// `syscallOrWouldBlock(_:_:)` on non-blocking descriptors.
///
/// > Warning: do not use this for `close(2)`: on Linux a close interrupted by a signal has already released the
/// > descriptor, and retrying could close one that another thread just opened. Use `closeFileDescriptor(_:)`.
///
/// - Parameters:
///   - name: the call's name for the error, e.g. `"accept4"`.
///   - body: makes the call once and returns its raw result; it must not do anything else that touches `errno`.
/// - Returns: the call's (non-failing) result.
/// - Throws: `SystemError` with `name` and `errno` when the call fails with anything but `EINTR`.
@inline(__always)
package func syscall<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        guard result == T(truncatingIfNeeded: -1) else { return result }
        let code = Glibc.errno
        guard code == EINTR else { throw SystemError(call: name, errno: code) }
    }
}

/// Like `syscall(_:_:)`, but returns `nil` when the call fails with `EAGAIN`/`EWOULDBLOCK`.
///
/// - Parameters:
///   - name: the call's name for the error, e.g. `"read"`.
///   - body: makes the call once and returns its raw result.
/// - Returns: the call's result, or `nil` if it would have blocked.
/// - Throws: `SystemError` for any failure but `EINTR` (retried) and `EAGAIN`/`EWOULDBLOCK` (`nil`).
@inline(__always)
package func syscallOrWouldBlock<T: FixedWidthInteger>(
    _ name: String,
    _ body: () -> T
) throws(SystemError) -> T? {
    do {
        return try syscall(name, body)
    } catch {
        guard error.isWouldBlock else { throw error }
        return nil
    }
}

/// Closes a descriptor this module owns, exactly once.
///
/// `EINTR` is not retried (Linux has already released the descriptor) and is not an error. `EBADF` means the
/// descriptor was closed twice or never ours, a programmer error that could close somebody else's file, so it
/// stops the process. Other errors (`EIO` on some file systems) cannot be acted on for sockets and are ignored.
///
/// - Parameter descriptor: the descriptor to close; it must not be used afterwards.
package func closeFileDescriptor(_ descriptor: Int32) {
    guard Glibc.close(descriptor) == -1 else { return }
    let code = Glibc.errno
    precondition(code != EBADF, "close(\(descriptor)): EBADF, the descriptor was closed twice or never owned")
}

// MARK: - Threads

/// A thread started by `startThread(name:_:)`; `join()` waits for it to finish.
///
/// If the handle is dropped without `join()`, the thread is detached and runs on by itself.
// Sendable because `pthread_t` is a plain integer on Linux and the joined flag is an atomic.
package final class ThreadHandle: Sendable {
    /// The name the thread was started with (the kernel keeps only its first 15 bytes).
    package let name: String
    private let thread: pthread_t
    private let joined = Atomic<Bool>(false)

    fileprivate init(name: String, thread: pthread_t) {
        self.name = name
        self.thread = thread
    }

    /// Blocks until the thread's body has returned.
    ///
    /// > Warning: blocks the calling thread; call it at most once, and never from the thread itself.
    package func join() {
        let (first, _) = joined.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing)
        precondition(first, "ThreadHandle.join() called twice for thread \(name)")
        let result = pthread_join(thread, nil)
        precondition(result == 0, "pthread_join(\(name)) failed with \(result)")
    }

    deinit {
        if !joined.load(ordering: .acquiring) {
            // Nobody will join it: let the thread release its own resources when it ends.
            _ = pthread_detach(thread)  // only fails for an invalid or already-joined thread, neither possible here
        }
    }
}

/// What the new thread runs; boxed so its pointer can cross `pthread_create`.
private final class ThreadStart {
    let name: String
    let body: @Sendable () -> Void

    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}

/// Starts a new named thread that runs `body`, for event loops and the delivery writer (one thread each).
///
/// The closure is `@Sendable`, so it can capture only Sendable values: create thread-confined objects such as an
/// `EventLoop` inside it (STYLE.md §6.29).
///
/// - Parameters:
///   - name: the thread's name as shown by `top -H` and debuggers; truncated to 15 bytes.
///   - body: what the thread runs; the thread ends when it returns.
/// - Returns: a handle to `join()` the thread.
/// - Throws: `SystemError` (`pthread_create`) when the system refuses another thread.
package func startThread(
    name: String,
    _ body: @escaping @Sendable () -> Void
) throws(SystemError) -> ThreadHandle {
    let start = Unmanaged.passRetained(ThreadStart(name: name, body: body))
    var thread = pthread_t()
    // The entry point captures nothing (STYLE.md §6.13): it finds its body through the argument.
    let result = pthread_create(
        &thread,
        nil,
        { argument in
            guard let argument else { preconditionFailure("thread started without its ThreadStart") }
            let start = Unmanaged<ThreadStart>.fromOpaque(argument).takeRetainedValue()
            // PR_SET_NAME keeps the first 15 bytes; it cannot fail for the calling thread, and a missing name
            // would only affect debugging.
            _ = CLinux_prctl_PR_SET_NAME(start.name)
            start.body()
            return nil
        },
        start.toOpaque()
    )
    guard result == 0 else {
        start.release()
        throw SystemError(call: "pthread_create", errno: result)
    }
    return ThreadHandle(name: name, thread: thread)
}
