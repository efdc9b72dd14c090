// TCP sockets over IPv4/IPv6: listening, accepting, connecting, and non-blocking reads and writes.

internal import CLinux
import Glibc

// C constants Swift imports as enum wrappers or plain `Int` (STYLE.md §6.16); each named once, here.
/// `SOCK_STREAM`
private let socketStream = Int32(SOCK_STREAM.rawValue)
/// `SOCK_NONBLOCK`
private let socketNonBlocking = Int32(SOCK_NONBLOCK.rawValue)
/// `SOCK_CLOEXEC`
private let socketCloseOnExec = Int32(SOCK_CLOEXEC.rawValue)
/// `IPPROTO_TCP`
private let protocolTCP = Int32(IPPROTO_TCP)
/// `MSG_NOSIGNAL`: a write to a reset connection fails with EPIPE instead of raising SIGPIPE.
private let messageNoSignal = Int32(MSG_NOSIGNAL)
/// `SHUT_WR`
private let shutdownWriting = Int32(SHUT_WR)

/// Owns one socket file descriptor, with the states open → closed.
///
/// Close a socket explicitly with `close()` once it is unregistered from its `EventLoop`. A socket that is
/// deallocated while still open is closed by `deinit` so the descriptor cannot leak, but in debug builds this
/// is an assertion failure: it means an owner forgot its teardown, which in production would hide a
/// missing `unregister` or shutdown step.
///
/// > Warning: not thread-safe. A socket belongs to the thread (event loop) that created or accepted it.
package final class Socket {
    private enum State {
        case open(Int32)
        case closed
    }

    private var state: State

    /// Takes ownership of an open socket descriptor; `close()` (or `deinit`) will close it.
    ///
    /// - Parameter fileDescriptor: an open socket that nothing else will close.
    package init(takingOwnershipOf fileDescriptor: Int32) {
        precondition(fileDescriptor >= 0, "Socket(takingOwnershipOf: \(fileDescriptor)) needs an open descriptor")
        self.state = .open(fileDescriptor)
    }

    deinit {
        if case .open(let descriptor) = state {
            assertionFailure("Socket \(descriptor) was deallocated while open; call close() first")
            closeFileDescriptor(descriptor)
        }
    }

    /// Whether `close()` has not been called yet.
    package var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    /// The descriptor, for `EventLoop.register(_:interest:handler:)` and `poll`.
    ///
    /// The socket must be open (a precondition): a closed socket's number may already belong to another file.
    package var fileDescriptor: Int32 {
        guard case .open(let descriptor) = state else {
            preconditionFailure("Socket.fileDescriptor used after close()")
        }
        return descriptor
    }

    /// Closes the descriptor. Idempotent: the first call closes, later calls do nothing.
    ///
    /// Unregister the descriptor from its `EventLoop` first.
    /// Gives up ownership without closing: the descriptor is now the caller's (it crosses to the worker
    /// thread that wraps it again). The socket is `closed` afterwards.
    @discardableResult
    package func releaseOwnership() -> Int32 {
        guard case .open(let descriptor) = state else { preconditionFailure("releaseOwnership() on a closed socket") }
        state = .closed
        return descriptor
    }

    package func close() {
        guard case .open(let descriptor) = state else { return }
        state = .closed
        closeFileDescriptor(descriptor)
    }

    // MARK: - Creating

    /// A new, unconnected TCP socket.
    private static func makeTCP(family: Int32, flags: Int32) throws(SystemError) -> Socket {
        let descriptor = try syscall("socket") { Glibc.socket(family, socketStream | flags, 0) }
        return Socket(takingOwnershipOf: descriptor)
    }

    /// Opens a non-blocking, close-on-exec listening socket on `address`, with `SO_REUSEADDR`.
    ///
    /// An IPv6 wildcard (`[::]`) also accepts IPv4 clients unless the host sets `net.ipv6.bindv6only`.
    ///
    /// - Parameters:
    ///   - address: where to listen; port 0 asks the kernel for a free port (see `localAddress`).
    ///   - reusePort: sets `SO_REUSEPORT`, so each event loop can have its own listener on the same port and the
    ///     kernel spreads connections across them.
    ///   - backlog: the accept queue length passed to `listen(2)` (capped by `net.core.somaxconn`).
    /// - Returns: the open listening socket.
    /// - Throws: `SystemError` from `socket`, `setsockopt`, `bind` (e.g. `EADDRINUSE`) or `listen`.
    package static func listen(
        on address: SocketAddress,
        reusePort: Bool,
        backlog: Int32 = 1024
    ) throws(SystemError) -> Socket {
        let socket = try makeTCP(family: address.family, flags: socketNonBlocking | socketCloseOnExec)
        do throws(SystemError) {
            try socket.setOption(level: SOL_SOCKET, name: SO_REUSEADDR, value: 1, call: "setsockopt(SO_REUSEADDR)")
            if reusePort {
                try socket.setOption(level: SOL_SOCKET, name: SO_REUSEPORT, value: 1, call: "setsockopt(SO_REUSEPORT)")
            }
            let descriptor = socket.fileDescriptor
            _ = try address.withSockAddr { (pointer, length) throws(SystemError) in
                try syscall("bind(\(address))") { Glibc.bind(descriptor, pointer, length) }
            }
            _ = try syscall("listen") { Glibc.listen(descriptor, backlog) }
        } catch {
            socket.close()
            throw error
        }
        return socket
    }

    /// Opens a blocking, close-on-exec TCP connection to `address`; for tests and self-checks.
    ///
    /// > Warning: blocks until the connection is established or refused.
    ///
    /// - Parameter address: the peer.
    /// - Returns: the connected socket (blocking; call `setNonBlocking(true)` to use it in an `EventLoop`).
    /// - Throws: `SystemError` from `socket` or `connect` (e.g. `ECONNREFUSED`).
    package static func connect(to address: SocketAddress) throws(SystemError) -> Socket {
        let socket = try makeTCP(family: address.family, flags: socketCloseOnExec)
        do throws(SystemError) {
            let descriptor = socket.fileDescriptor
            let result = try address.withSockAddr { (pointer, length) throws(SystemError) in
                Glibc.connect(descriptor, pointer, length)
            }
            if result == -1 {
                let code = Glibc.errno
                // An interrupted connect goes on in the background; restarting it would fail with EALREADY.
                guard code == EINTR else { throw SystemError(call: "connect(\(address))", errno: code) }
                try socket.awaitConnection(to: address)
            }
        } catch {
            socket.close()
            throw error
        }
        return socket
    }

    /// Waits for a connect that `EINTR` interrupted to finish, and reports its outcome.
    private func awaitConnection(to address: SocketAddress) throws(SystemError) {
        var entry = pollfd(fd: fileDescriptor, events: Int16(POLLOUT), revents: 0)
        _ = try syscall("poll") { poll(&entry, 1, -1) }
        var pending: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        let descriptor = fileDescriptor
        _ = try syscall("getsockopt(SO_ERROR)") { getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &pending, &length) }
        if pending != 0 { throw SystemError(call: "connect(\(address))", errno: pending) }
    }

    // MARK: - Accepting

    /// Accepts one pending connection, non-blocking and close-on-exec, with `TCP_NODELAY` set.
    ///
    /// Call it until it returns `nil` when the listener is readable; with level-triggered registration, any
    /// connection left in the queue makes the listener readable again on the next loop iteration.
    ///
    /// - Returns: the connection and the peer's address, or `nil` if none is pending (`EAGAIN`) or the peer gave
    ///   up before it was accepted (`ECONNABORTED`).
    /// - Throws: `SystemError` from `accept4`, e.g. `EMFILE` when out of descriptors. The connection stays queued,
    ///   so the listener stays readable: back off (stop reading the listener for a while) rather than spin.
    package func accept() throws(SystemError) -> (Socket, SocketAddress)? {
        let listener = fileDescriptor
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let accepted: Int32?
        do throws(SystemError) {
            accepted = try syscallOrWouldBlock("accept4") {
                withUnsafeMutablePointer(to: &storage) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                        CLinux_accept4(listener, address, &length, socketNonBlocking | socketCloseOnExec)
                    }
                }
            }
        } catch {
            guard error.errno == ECONNABORTED else { throw error }
            return nil
        }
        guard let accepted else { return nil }
        let connection = Socket(takingOwnershipOf: accepted)
        guard let peer = SocketAddress(storage) else {
            preconditionFailure("accept4 returned address family \(storage.ss_family) on a TCP/IP listener")
        }
        do throws(SystemError) {
            try connection.setOption(level: protocolTCP, name: TCP_NODELAY, value: 1, call: "setsockopt(TCP_NODELAY)")
        } catch {
            connection.close()
            throw error
        }
        return (connection, peer)
    }

    // MARK: - Addresses

    /// The address the socket is bound to; after listening on port 0, the port the kernel chose.
    ///
    /// - Throws: `SystemError` from `getsockname`.
    package var localAddress: SocketAddress {
        get throws(SystemError) {
            try address(call: "getsockname", Glibc.getsockname)
        }
    }

    /// The connected peer's address.
    ///
    /// - Throws: `SystemError` from `getpeername` (`ENOTCONN` when not connected).
    package var remoteAddress: SocketAddress {
        get throws(SystemError) {
            try address(call: "getpeername", Glibc.getpeername)
        }
    }

    private func address(
        call: String,
        _ function: (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?) -> Int32
    ) throws(SystemError) -> SocketAddress {
        let descriptor = fileDescriptor
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try syscall(call) {
            withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { function(descriptor, $0, &length) }
            }
        }
        guard let address = SocketAddress(storage) else {
            throw SystemError(call: call, errno: EAFNOSUPPORT)
        }
        return address
    }

    // MARK: - I/O

    /// Reads what is available, up to `buffer.count` bytes.
    ///
    /// - Parameter buffer: where to put the bytes; must not be empty (0 is reserved for end of stream).
    /// - Returns: the number of bytes read, 0 at end of stream (the peer shut down writing), or `nil` if nothing
    ///   is available yet (`EAGAIN` on a non-blocking socket).
    /// - Throws: `SystemError` from `read`, e.g. `ECONNRESET`.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int? {
        precondition(!buffer.isEmpty, "Socket.read(into:) needs a non-empty buffer: 0 means end of stream")
        let descriptor = fileDescriptor
        return try syscallOrWouldBlock("read") { Glibc.read(descriptor, buffer.baseAddress, buffer.count) }
    }

    /// Writes as much of `bytes` as the socket takes now, without raising SIGPIPE (`MSG_NOSIGNAL`).
    ///
    /// - Parameter bytes: the bytes to send; an empty buffer writes nothing and returns 0.
    /// - Returns: the number of bytes written (possibly fewer than `bytes.count`), or `nil` if the send buffer is
    ///   full (`EAGAIN` on a non-blocking socket): wait for writability.
    /// - Throws: `SystemError` from `send`, e.g. `EPIPE` or `ECONNRESET`.
    package func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> Int? {
        let descriptor = fileDescriptor
        guard !bytes.isEmpty else { return 0 }
        return try syscallOrWouldBlock("send") { send(descriptor, bytes.baseAddress, bytes.count, messageNoSignal) }
    }

    /// Sets or clears `O_NONBLOCK`.
    ///
    /// - Throws: `SystemError` from `fcntl`.
    package func setNonBlocking(_ on: Bool) throws(SystemError) {
        let descriptor = fileDescriptor
        let flags = try syscall("fcntl(F_GETFL)") { fcntl(descriptor, F_GETFL) }
        let wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        guard wanted != flags else { return }
        _ = try syscall("fcntl(F_SETFL)") { fcntl(descriptor, F_SETFL, wanted) }
    }

    /// Sends FIN (`shutdown(SHUT_WR)`), so the peer reads end of stream; reading stays possible. Best effort.
    package func shutdownWrite() {
        let descriptor = fileDescriptor
        // ENOTCONN (the peer already reset the connection) is the only expected failure, and then there is
        // nobody left to tell: ignoring it is the point of "best effort".
        _ = Glibc.shutdown(descriptor, shutdownWriting)
    }

    // MARK: - Options

    private func setOption(level: Int32, name: Int32, value: Int32, call: String) throws(SystemError) {
        let descriptor = fileDescriptor
        var value = value
        _ = try syscall(call) {
            setsockopt(descriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }
}
