// IPv4 and IPv6 endpoints: parsing "HOST:PORT" for configuration, and conversion to and from `sockaddr`.

internal import CLinux
import Glibc

/// An IPv4 or IPv6 address and a TCP port, e.g. `127.0.0.1:8443` or `[::1]:443`.
///
/// `host` is always a numeric address in its canonical text form (`inet_ntop`), so two values for the same
/// endpoint compare equal. Names are not resolved, except `localhost`, which means `127.0.0.1` (RFC 6761), so
/// parsing a configuration never blocks on DNS.
package struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The numeric address: `127.0.0.1`, `0.0.0.0`, `::1`, `::`, `::ffff:10.0.0.1`…
    package var host: String
    /// The TCP port; 0 asks the kernel for a free one when listening.
    package var port: UInt16

    /// Creates an address from a numeric host and a port. The host is not checked here: an invalid one makes
    /// `Socket.listen(on:reusePort:backlog:)` or `Socket.connect(to:)` throw `EINVAL`.
    package init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Whether `host` is an IPv6 address (it contains a colon).
    package var isIPv6: Bool {
        host.contains(":")
    }

    /// `127.0.0.1:8443` for IPv4, `[::1]:8443` for IPv6.
    package var description: String {
        isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

// MARK: - Parsing

extension SocketAddress {
    /// Why a `"HOST:PORT"` text could not be parsed; `description` names the input and the bad part.
    package struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What was wrong, as an open set of codes.
        package struct Code: Sendable, Hashable, CustomStringConvertible {
            private enum Base: String, Sendable, Hashable {
                case missingPort, badPort, missingHost, badHost, unbracketedIPv6, badIPv6
            }
            private let base: Base

            private init(_ base: Base) {
                self.base = base
            }

            /// No `:PORT` after the host.
            package static let missingPort = Code(.missingPort)
            /// The port is not a decimal number from 0 to 65535.
            package static let badPort = Code(.badPort)
            /// Nothing before the `:PORT`.
            package static let missingHost = Code(.missingHost)
            /// The host is neither an IPv4 address nor `localhost`.
            package static let badHost = Code(.badHost)
            /// An IPv6 address without the brackets that separate it from the port.
            package static let unbracketedIPv6 = Code(.unbracketedIPv6)
            /// Brackets around something that is not an IPv6 address, or a missing `]`.
            package static let badIPv6 = Code(.badIPv6)

            package var description: String { base.rawValue }
        }

        /// What was wrong.
        package var code: Code
        /// The whole text that was parsed.
        package var input: String
        /// The offending part of `input` (the port text, the host text…).
        package var part: String

        package var description: String {
            let quoted = "\"\(input)\""
            switch code {
            case .missingPort: return "\(quoted) has no port: expected HOST:PORT, e.g. 0.0.0.0:8443 or [::]:8443"
            case .badPort: return "\(quoted): port \"\(part)\" is not a number from 0 to 65535"
            case .missingHost: return "\(quoted) has no host before the port"
            case .badHost: return "\(quoted): host \"\(part)\" is not an IPv4 address, [IPv6] address or localhost"
            case .unbracketedIPv6: return "\(quoted): IPv6 host \"\(part)\" needs brackets, e.g. [\(part)]:8443"
            default: return "\(quoted): \"\(part)\" is not a bracketed IPv6 address such as [::1]"
            }
        }
    }

    /// Parses `HOST:PORT`: `0.0.0.0:8443`, `127.0.0.1:0`, `[::1]:8443`, `[::]:443` or `localhost:8443`.
    ///
    /// - Parameter text: the address as written in configuration or on the command line.
    /// - Throws: `SocketAddress.ParseError` naming the part that is wrong.
    package init(parsing text: String) throws(ParseError) {
        func failure(_ code: ParseError.Code, _ part: Substring) -> ParseError {
            ParseError(code: code, input: text, part: String(part))
        }
        let hostText: Substring
        let portText: Substring
        let host: String
        if text.hasPrefix("[") {
            guard let closing = text.firstIndex(of: "]") else {
                throw failure(.badIPv6, text[...])
            }
            hostText = text[text.index(after: text.startIndex)..<closing]
            let rest = text[text.index(after: closing)...]
            guard rest.hasPrefix(":") else { throw failure(.missingPort, rest) }
            portText = rest.dropFirst()
            guard let canonical = Self.canonicalHost(family: AF_INET6, String(hostText)) else {
                throw failure(.badIPv6, hostText)
            }
            host = canonical
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw failure(.missingPort, text[...]) }
            hostText = text[..<colon]
            portText = text[text.index(after: colon)...]
            if hostText.isEmpty { throw failure(.missingHost, hostText) }
            if hostText.contains(":") { throw failure(.unbracketedIPv6, hostText) }
            if hostText.lowercased() == "localhost" {
                host = "127.0.0.1"
            } else if let canonical = Self.canonicalHost(family: AF_INET, String(hostText)) {
                host = canonical
            } else {
                throw failure(.badHost, hostText)
            }
        }
        guard let port = Self.parsePort(portText) else { throw failure(.badPort, portText) }
        self.init(host: host, port: port)
    }

    /// Decimal digits only (no sign, no spaces), at most 65535.
    private static func parsePort(_ text: Substring) -> UInt16? {
        guard !text.isEmpty, text.utf8.count <= 5,
            text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return UInt16(text)
    }

    /// The `inet_ntop` form of a numeric address, or `nil` if `inet_pton` rejects it.
    private static func canonicalHost(family: Int32, _ text: String) -> String? {
        var storage = in6_addr()  // large enough for in_addr too
        guard inet_pton(family, text, &storage) == 1 else { return nil }
        return withUnsafeBytes(of: &storage) { Self.presentation(family: family, $0.baseAddress) }
    }

    /// `inet_ntop` of the `in_addr`/`in6_addr` at `address`.
    private static func presentation(family: Int32, _ address: UnsafeRawPointer?) -> String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(INET6_ADDRSTRLEN)) { buffer in
            guard let text = inet_ntop(family, address, buffer.baseAddress, socklen_t(buffer.count)) else {
                return nil
            }
            return String(cString: text)
        }
    }
}

// MARK: - sockaddr conversion (internal)

extension SocketAddress {
    /// `AF_INET` or `AF_INET6`.
    var family: Int32 {
        isIPv6 ? AF_INET6 : AF_INET
    }

    /// Calls `body` with this address as a `sockaddr` and its length.
    ///
    /// - Throws: `SystemError` (`inet_pton`, `EINVAL`) if `host` is not a numeric address; whatever `body` throws.
    func withSockAddr<Result>(
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemError) -> Result
    ) throws(SystemError) -> Result {
        let invalid = SystemError(call: "inet_pton(\(host))", errno: EINVAL)
        if isIPv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { throw invalid }
            return try Self.asSockAddr(&address, body)
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw invalid }
            return try Self.asSockAddr(&address, body)
        }
    }

    private static func asSockAddr<Address, Result>(
        _ address: inout Address,
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemError) -> Result
    ) throws(SystemError) -> Result {
        let length = socklen_t(MemoryLayout<Address>.size)
        return try withUnsafePointer(to: &address) { (pointer) throws(SystemError) -> Result in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (raw) throws(SystemError) -> Result in
                try body(raw, length)
            }
        }
    }

    /// Reads an `AF_INET`/`AF_INET6` address filled in by `accept4`, `getsockname` or `getpeername`.
    ///
    /// - Returns: `nil` for any other family (our sockets are always TCP over IP).
    init?(_ storage: sockaddr_storage) {
        let family = Int32(storage.ss_family)
        let parsed: SocketAddress? = withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET:
                let address = raw.loadUnaligned(as: sockaddr_in.self)
                return withUnsafeBytes(of: address.sin_addr) { bytes in
                    Self.presentation(family: AF_INET, bytes.baseAddress).map {
                        SocketAddress(host: $0, port: UInt16(bigEndian: address.sin_port))
                    }
                }
            case AF_INET6:
                let address = raw.loadUnaligned(as: sockaddr_in6.self)
                return withUnsafeBytes(of: address.sin6_addr) { bytes in
                    Self.presentation(family: AF_INET6, bytes.baseAddress).map {
                        SocketAddress(host: $0, port: UInt16(bigEndian: address.sin6_port))
                    }
                }
            default:
                return nil
            }
        }
        guard let parsed else { return nil }
        self = parsed
    }
}
