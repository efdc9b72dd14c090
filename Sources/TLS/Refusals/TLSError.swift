internal import COpenSSL

/// The one error type of the TLS module: an open `Code`, a one-line message for a person, and the OpenSSL
/// error stack that was queued when the failure happened.
///
/// `description` names the flag, file or peer and what is wrong, e.g.
/// "--client-ca /etc/ca.pem holds no CA certificate". The OpenSSL stack is only in `debugDescription`.
package struct TLSError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of failure this is. Open: new codes can be added without breaking callers.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case configuration, io, handshake, certificate, key, pki, system, input, refused
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// Bad server configuration (files, flags): exit 64 at start, keep the old context on reload.
        package static let configuration = Code(.configuration)
        /// A TLS read, write or shutdown failed on an established connection.
        package static let io = Code(.io)
        /// A handshake could not be set up.
        package static let handshake = Code(.handshake)
        /// A certificate could not be parsed, read or encoded.
        package static let certificate = Code(.certificate)
        /// A private key could not be generated, read or encoded.
        package static let key = Code(.key)
        /// Issuing a certificate or CRL failed.
        package static let pki = Code(.pki)
        /// An operating system call failed (file writes, directories).
        package static let system = Code(.system)
        /// A file or value given to a `webhookd certs` command cannot be used: unreadable, unparsable, a wrong
        /// passphrase, a missing dev CA, an invalid client id (the command exits 64).
        package static let input = Code(.input)
        /// A `webhookd certs` request was understood and refused by a rule: a file that would be overwritten
        /// without `--force`, a CSR that breaks a signing rule, a certificate of another CA (the command exits 1).
        package static let refused = Code(.refused)

        /// The code's name, e.g. `configuration`.
        package var description: String { base.rawValue }
    }

    /// One entry of the OpenSSL error queue.
    package struct OpenSSLError: Sendable, Hashable, CustomStringConvertible {
        /// The packed `unsigned long` error code (kept unsigned, never truncated).
        package let code: UInt
        /// The reason text, e.g. "tlsv13 alert certificate required" or "key values mismatch".
        package let reason: String
        /// OpenSSL's full one-line rendering, e.g. "error:0A00045C:SSL routines::tlsv13 alert certificate required".
        package let text: String
        /// Extra data OpenSSL attached (`ERR_TXT_STRING`), if any.
        package let data: String?

        /// The OpenSSL rendering plus its data.
        package var description: String {
            if let data { "\(text) (\(data))" } else { text }
        }
    }

    /// What kind of failure this is.
    package let code: Code
    /// The one-line message for a person.
    package let message: String
    /// The OpenSSL error queue at the time of failure, oldest first (may be empty).
    package let openSSLErrors: [OpenSSLError]

    /// Creates an error; `openSSLErrors` is usually `TLSError.drainOpenSSLErrors()`.
    package init(code: Code, message: String, openSSLErrors: [OpenSSLError] = []) {
        self.code = code
        self.message = message
        self.openSSLErrors = openSSLErrors
    }

    /// One line for a person, naming the flag or file and the problem.
    package var description: String { message }

    /// The message plus the OpenSSL error stack, for logs and debugging.
    package var debugDescription: String {
        var result = "TLSError(\(code)): \(message)"
        if !openSSLErrors.isEmpty {
            result += " [" + openSSLErrors.map(\.description).joined(separator: "; ") + "]"
        }
        return result
    }

    /// The first OpenSSL reason text, e.g. the alert a client received ("sslv3 alert certificate expired").
    package var openSSLReason: String? { openSSLErrors.first?.reason }
}

extension TLSError {
    /// Creates an error carrying the whole OpenSSL error queue, which it empties (STYLE.md §6.11).
    static func drained(_ code: Code, _ message: String) -> TLSError {
        TLSError(code: code, message: message, openSSLErrors: drainOpenSSLErrors())
    }

    /// Removes every entry from this thread's OpenSSL error queue and returns them, oldest first.
    static func drainOpenSSLErrors() -> [OpenSSLError] {
        var errors: [OpenSSLError] = []
        while true {
            var data: UnsafePointer<CChar>? = nil
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            let text = buffer.withUnsafeMutableBufferPointer { pointer -> String in
                guard let base = pointer.baseAddress else { return "" }
                ERR_error_string_n(code, base, pointer.count)
                return String(cString: base)
            }
            let reason = ERR_reason_error_string(code).map { String(cString: $0) } ?? text
            let extra: String? =
                if let data, flags & ERR_TXT_STRING != 0, data.pointee != 0 { String(cString: data) } else { nil }
            errors.append(OpenSSLError(code: code, reason: reason, text: text, data: extra))
        }
        return errors
    }
}
