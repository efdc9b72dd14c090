// Process signals: SIGTERM/SIGINT/SIGHUP read synchronously from a signalfd, and SIGPIPE ignored.

internal import CLinux
import Glibc

/// `SFD_NONBLOCK | SFD_CLOEXEC`
private let signalFDFlags = Int32(SFD_NONBLOCK) | Int32(SFD_CLOEXEC)
/// `POLLIN`
private let pollReadable = Int16(POLLIN)

/// Owns one signalfd that reads SIGTERM, SIGINT and SIGHUP as data instead of running handlers.
///
/// A signalfd only sees signals that are blocked, so call `blockTerminationAndReloadSignals()` first, on the
/// main thread before any other thread starts: threads inherit the mask, and a thread that did not block them
/// would take SIGTERM's default action (exit) instead. Then one thread loops on `next()`: SIGHUP reloads,
/// SIGTERM/SIGINT drain and stop.
// Sendable without `@unchecked`: its only stored property is an immutable Int32, and reading a signalfd from
// several threads is safe (each signal is delivered to one reader).
package final class SignalWaiter: Sendable {
    /// The signals this type blocks and reads: SIGTERM, SIGINT and SIGHUP.
    package static let handledSignals: [Int32] = [SIGTERM, SIGINT, SIGHUP]

    private let fileDescriptor: Int32

    /// Blocks SIGTERM, SIGINT and SIGHUP on the calling thread, and so on every thread it starts afterwards.
    ///
    /// > Warning: call it at the very start of `main`, before any thread exists (Swift's concurrency pool
    /// > included): a thread started earlier keeps the default mask and could be chosen to receive the signal.
    package static func blockTerminationAndReloadSignals() {
        var set = handledSignalSet()
        let result = pthread_sigmask(SIG_BLOCK, &set, nil)
        precondition(result == 0, "pthread_sigmask(SIG_BLOCK) failed with \(result)")
    }

    private static func handledSignalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handledSignals {
            sigaddset(&set, signal)
        }
        return set
    }

    /// Opens a signalfd for SIGTERM, SIGINT and SIGHUP.
    ///
    /// - Throws: `SystemError` from `signalfd` (e.g. `EMFILE`).
    package init() throws(SystemError) {
        var set = Self.handledSignalSet()
        fileDescriptor = try syscall("signalfd") { signalfd(-1, &set, signalFDFlags) }
    }

    deinit {
        closeFileDescriptor(fileDescriptor)
    }

    /// Blocks until one of the handled signals arrives, and returns its number (`SIGTERM`, `SIGINT`, `SIGHUP`).
    ///
    /// > Warning: blocks the calling thread indefinitely; give it a thread of its own.
    package func next() -> Int32 {
        while true {
            if let signal = next(timeout: nil) { return signal }
        }
    }

    /// Waits at most `timeout` for one of the handled signals.
    ///
    /// > Warning: blocks the calling thread.
    ///
    /// - Parameter timeout: the longest wait; `nil` waits forever.
    /// - Returns: the signal number, or `nil` if none arrived in time.
    package func next(timeout: Duration?) -> Int32? {
        let clock = ContinuousClock()
        let deadline = timeout.map { clock.now + $0 }
        while true {
            if let signal = readPending() { return signal }
            let milliseconds = deadline.map { pollTimeoutMilliseconds(until: $0, now: clock.now) } ?? -1
            var entry = pollfd(fd: fileDescriptor, events: pollReadable, revents: 0)
            do {
                let ready = try syscall("poll(signalfd)") { poll(&entry, 1, milliseconds) }
                if ready == 0 && milliseconds == 0 { return readPending() }
            } catch {
                preconditionFailure("\(error): poll on one owned signalfd cannot fail")
            }
        }
    }

    /// One queued signal, without blocking.
    private func readPending() -> Int32? {
        var info = signalfd_siginfo()
        let descriptor = fileDescriptor
        let size = MemoryLayout<signalfd_siginfo>.size
        do {
            let count = try syscallOrWouldBlock("read(signalfd)") { Glibc.read(descriptor, &info, size) }
            guard let count else { return nil }
            precondition(count == size, "read(signalfd) returned \(count) bytes, not one signalfd_siginfo")
            return Int32(bitPattern: info.ssi_signo)
        } catch {
            preconditionFailure("\(error): reading an owned signalfd cannot fail")
        }
    }
}

/// Ignores SIGPIPE for the whole process, so writing to a connection the peer reset fails with `EPIPE` instead
/// of killing the process (OpenSSL writes with plain `write(2)`; STYLE.md pitfall 11). Idempotent.
package func ignoreSIGPIPE() {
    _ = sigpipeIgnored
}

/// Evaluated once, thread-safely, on first use (Swift globals are lazily initialised with `swift_once`).
private let sigpipeIgnored: Void = {
    // signal(2) returns the previous handler; SIG_ERR is impossible for a valid signal number.
    _ = signal(SIGPIPE, SIG_IGN)
}()
