import Glibc
import Posix
import Testing

// MARK: - Helpers shared by the Receiver tests

/// Waits (bounded, with poll(2)) until `fd` is readable; `false` if `limit` passed first.
func waitUntilReadable(_ fd: Int32, within limit: Duration = .seconds(10)) -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&entry, 1, 100) > 0 { return true }
    }
    return false
}

/// Accepts one connection from a non-blocking listener, polling (bounded) until it is queued.
func acceptOne(_ listener: Socket) throws -> (Socket, SocketAddress) {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        if let accepted = try listener.accept() { return accepted }
        _ = waitUntilReadable(listener.fileDescriptor, within: .milliseconds(100))
    }
    throw SystemError(call: "accept4 (test deadline)", errno: ETIMEDOUT)
}

/// Entries in /proc/self/fd (including the one `opendir` uses while counting).
func openDescriptorCount() -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { count += 1 }
    }
    return count
}

/// Whether ::1 can be bound here (some containers have no IPv6).
let ipv6LoopbackAvailable: Bool = {
    guard let socket = try? Socket.listen(on: SocketAddress(host: "::1", port: 0), reusePort: false) else {
        return false
    }
    socket.close()
    return true
}()

// MARK: - SocketAddress

@Suite struct SocketAddressTests {
    @Test(
        arguments: [
            ("0.0.0.0:8443", "0.0.0.0", 8443, "0.0.0.0:8443"),
            ("127.0.0.1:0", "127.0.0.1", 0, "127.0.0.1:0"),
            ("[::1]:8443", "::1", 8443, "[::1]:8443"),
            ("[::]:443", "::", 443, "[::]:443"),
            ("[0:0:0:0:0:0:0:1]:80", "::1", 80, "[::1]:80"),
            ("[::ffff:10.0.0.1]:1", "::ffff:10.0.0.1", 1, "[::ffff:10.0.0.1]:1"),
            ("localhost:8443", "127.0.0.1", 8443, "127.0.0.1:8443"),
            ("LocalHost:65535", "127.0.0.1", 65535, "127.0.0.1:65535"),
        ] as [(String, String, UInt16, String)])
    func parsesHostAndPort(input: String, host: String, port: UInt16, description: String) throws {
        let address = try SocketAddress(parsing: input)
        #expect(address.host == host)
        #expect(address.port == port)
        #expect(address.description == description)
        #expect(try SocketAddress(parsing: address.description) == address)
    }

    @Test(
        arguments: [
            ("127.0.0.1", SocketAddress.ParseError.Code.missingPort, "127.0.0.1"),
            ("127.0.0.1:", .badPort, ""),
            ("127.0.0.1:65536", .badPort, "65536"),
            ("127.0.0.1:-1", .badPort, "-1"),
            ("127.0.0.1:+80", .badPort, "+80"),
            ("127.0.0.1: 80", .badPort, " 80"),
            ("127.0.0.1:000080", .badPort, "000080"),
            (":8443", .missingHost, ""),
            ("::1:8443", .unbracketedIPv6, "::1"),
            ("[::1]8443", .missingPort, "8443"),
            ("[::1]", .missingPort, ""),
            ("[::1:8443", .badIPv6, "[::1:8443"),
            ("[127.0.0.1]:80", .badIPv6, "127.0.0.1"),
            ("[fe80::1%eth0]:80", .badIPv6, "fe80::1%eth0"),
            ("example.com:80", .badHost, "example.com"),
            ("256.1.1.1:80", .badHost, "256.1.1.1"),
            ("", .missingPort, ""),
        ] as [(String, SocketAddress.ParseError.Code, String)])
    func rejectsMalformedAddressNamingTheBadPart(input: String, code: SocketAddress.ParseError.Code, part: String) {
        #expect {
            try SocketAddress(parsing: input)
        } throws: { error in
            guard let error = error as? SocketAddress.ParseError else { return false }
            return error.code == code && error.part == part && error.input == input
                && error.description.contains("\"\(input)\"")
        }
    }

    @Test func parseErrorDescriptionIsOneReadableLine() {
        let error = #expect(throws: SocketAddress.ParseError.self) { try SocketAddress(parsing: "127.0.0.1:99999") }
        #expect(error?.description == "\"127.0.0.1:99999\": port \"99999\" is not a number from 0 to 65535")
    }
}

// MARK: - SystemError and the syscall wrapper

@Suite struct SystemCallTests {
    @Test func systemErrorDescriptionNamesCallReasonAndErrno() {
        #expect(SystemError(call: "accept4", errno: EMFILE).description == "accept4: Too many open files (errno 24)")
    }

    @Test func wouldBlockIsSurfacedAsNilOrAsADistinctError() throws {
        let signal = try WakeupSignal()  // a non-blocking eventfd with nothing to read
        var counter: UInt64 = 0
        let fd = signal.fileDescriptor
        #expect(try syscallOrWouldBlock("read") { read(fd, &counter, 8) } == nil)
        let error = #expect(throws: SystemError.self) { try syscall("read") { read(fd, &counter, 8) } }
        #expect(error?.isWouldBlock == true)
        #expect(error?.call == "read")
    }

    @Test func otherFailuresCarryTheirErrno() {
        let error = #expect(throws: SystemError.self) { try syscall("fcntl") { fcntl(-1, F_GETFL) } }
        #expect(error?.errno == EBADF)
        #expect(error?.isWouldBlock == false)
    }

    @Test func startThreadRunsTheBodyAndJoins() throws {
        let signal = try WakeupSignal()
        let thread = try startThread(name: "test-thread-with-a-long-name") { signal.signal() }
        thread.join()
        #expect(signal.consume())
        #expect(thread.name == "test-thread-with-a-long-name")
    }
}

// MARK: - Socket

@Suite struct SocketTests {
    @Test func listensOnAnEphemeralLoopbackPort() throws {
        let listener = try Socket.listen(on: SocketAddress(parsing: "127.0.0.1:0"), reusePort: false)
        defer { listener.close() }
        let local = try listener.localAddress
        #expect(local.host == "127.0.0.1")
        #expect(local.port != 0)
    }

    @Test func twoReusePortListenersShareOnePortAndAThirdWithoutItIsRefused() throws {
        let first = try Socket.listen(on: SocketAddress(parsing: "127.0.0.1:0"), reusePort: true)
        defer { first.close() }
        let address = try first.localAddress
        let second = try Socket.listen(on: address, reusePort: true)
        defer { second.close() }
        #expect(try second.localAddress == address)

        let error = #expect(throws: SystemError.self) {
            let third = try Socket.listen(on: address, reusePort: false)
            third.close()
        }
        #expect(error?.errno == EADDRINUSE)
    }

    @Test func connectToAPortNobodyListensOnIsRefused() throws {
        // Keep the port bound but not listening, so no parallel test can take it (or self-connect to it).
        let bound = Socket(takingOwnershipOf: socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0))
        defer { bound.close() }
        var any = sockaddr_in()
        any.sin_family = sa_family_t(AF_INET)
        any.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bindResult = withUnsafePointer(to: &any) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(bound.fileDescriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(bindResult == 0)
        let address = try bound.localAddress
        let error = #expect(throws: SystemError.self) {
            let socket = try Socket.connect(to: address)
            socket.close()
        }
        #expect(error?.errno == ECONNREFUSED)
    }

    @Test func readWriteAndEndOfStreamRoundTrip() throws {
        let listener = try Socket.listen(on: SocketAddress(parsing: "127.0.0.1:0"), reusePort: false)
        defer { listener.close() }
        let client = try Socket.connect(to: listener.localAddress)
        defer { client.close() }
        let (server, peer) = try acceptOne(listener)
        defer { server.close() }
        #expect(peer == (try client.localAddress))
        #expect(try server.remoteAddress == peer)

        var buffer = [UInt8](repeating: 0, count: 64)
        // Nothing sent yet: a non-blocking read reports "would block" as nil.
        #expect(try buffer.withUnsafeMutableBytes { try server.read(into: $0) } == nil)

        let request = Array("POST /hook".utf8)
        #expect(try request.withUnsafeBytes { try client.write($0) } == request.count)
        #expect(waitUntilReadable(server.fileDescriptor))
        let count = try buffer.withUnsafeMutableBytes { try server.read(into: $0) }
        #expect(count == request.count)
        #expect(Array(buffer.prefix(request.count)) == request)

        let response = Array("200 OK".utf8)
        #expect(try response.withUnsafeBytes { try server.write($0) } == response.count)
        server.shutdownWrite()
        // The client is blocking: read returns the response, then 0 for end of stream.
        var received: [UInt8] = []
        while waitUntilReadable(client.fileDescriptor) {
            let count = try #require(try buffer.withUnsafeMutableBytes { try client.read(into: $0) })
            if count == 0 { break }
            received += buffer.prefix(count)
        }
        #expect(received == response)

        client.shutdownWrite()
        #expect(waitUntilReadable(server.fileDescriptor))
        #expect(try buffer.withUnsafeMutableBytes { try server.read(into: $0) } == 0)
    }

    @Test(.enabled(if: ipv6LoopbackAvailable, "no IPv6 loopback here"))
    func ipv6ListenConnectAndAccept() throws {
        let listener = try Socket.listen(on: SocketAddress(parsing: "[::1]:0"), reusePort: false)
        defer { listener.close() }
        let address = try listener.localAddress
        #expect(address.host == "::1")
        #expect(address.description == "[::1]:\(address.port)")
        let client = try Socket.connect(to: address)
        defer { client.close() }
        let (server, peer) = try acceptOne(listener)
        defer { server.close() }
        #expect(peer.host == "::1")
    }

    @Test func setNonBlockingTogglesReadsBetweenNilAndBlocking() throws {
        let listener = try Socket.listen(on: SocketAddress(parsing: "127.0.0.1:0"), reusePort: false)
        defer { listener.close() }
        let client = try Socket.connect(to: listener.localAddress)
        defer { client.close() }
        let (server, _) = try acceptOne(listener)
        defer { server.close() }
        try client.setNonBlocking(true)
        var byte: UInt8 = 0
        #expect(try withUnsafeMutableBytes(of: &byte) { try client.read(into: $0) } == nil)
        try client.setNonBlocking(false)
        #expect(try [UInt8(7)].withUnsafeBytes { try server.write($0) } == 1)
        #expect(try withUnsafeMutableBytes(of: &byte) { try client.read(into: $0) } == 1)
        #expect(byte == 7)
    }

    @Test func closeIsIdempotent() throws {
        let listener = try Socket.listen(on: SocketAddress(parsing: "127.0.0.1:0"), reusePort: false)
        #expect(listener.isOpen)
        listener.close()
        listener.close()
        #expect(!listener.isOpen)
    }

    /// Runs in a child process so that other tests opening descriptors in parallel cannot disturb the count.
    /// The runtime in that process may still open a descriptor of its own at any moment (Dispatch creates its
    /// epoll set lazily), so a round counts if any of three attempts balances; a real leak unbalances all three.
    @Test func openingAndClosingSocketsAndLoopsLeavesNoDescriptorBehind() async {
        await #expect(processExitsWith: .success) {
            var leaked = 0
            for _ in 0..<3 {
                let before = openDescriptorCount()
                do {
                    try openAndCloseOneHundredSockets()
                } catch {
                    exit(2)
                }
                leaked = openDescriptorCount() - before
                if leaked == 0 { exit(EXIT_SUCCESS) }
            }
            // The exit code tells how many descriptors leaked (at least 3, to tell it from the other failures).
            exit(Int32(clamping: min(max(leaked, 3), 100)))
        }
    }

}

/// Opens a listener, 49 connections (client and server side) and an event loop with a registration, a
/// `WakeupSignal` and a `SignalWaiter`, then closes or drops all of them.
private func openAndCloseOneHundredSockets() throws {
    let before = openDescriptorCount()
    let listener = try Socket.listen(on: SocketAddress(parsing: "127.0.0.1:0"), reusePort: false)
    let address = try listener.localAddress
    var sockets: [Socket] = [listener]
    for _ in 0..<49 {
        let client = try Socket.connect(to: address)
        let (server, _) = try acceptOne(listener)
        sockets += [client, server]
    }
    // A sanity check that counting works; the runtime may close a descriptor of its own meanwhile.
    guard openDescriptorCount() >= before + 90 else { exit(4) }
    let loop = try EventLoop()
    try loop.register(listener.fileDescriptor, interest: .readable, handler: BlockHandler { _ in })
    loop.unregister(listener.fileDescriptor)
    _ = try WakeupSignal()
    _ = try SignalWaiter()
    for socket in sockets {
        socket.close()
    }
}
