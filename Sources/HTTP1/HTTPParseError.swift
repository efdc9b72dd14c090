/// Why a request could not be parsed, with the HTTP status to answer before closing the connection.
///
/// SPEC: a malformed request (400), or a head over the limits (431), is answered and the connection closed.
/// The `message` is written for the client and never contains request bytes, so it is safe to send back.
package struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure. Open for extension: new codes are added as `static let`s.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Sendable, Hashable {
            case badRequest
            case headersTooLarge
            case versionNotSupported
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The request is malformed, ambiguous (for example `Content-Length` with `Transfer-Encoding`) or its
        /// chunked body is broken: 400.
        package static let badRequest = Code(.badRequest)
        /// The head (or the trailer section) exceeds `HTTPLimits`: 431.
        package static let headersTooLarge = Code(.headersTooLarge)
        /// The request line names a well-formed HTTP version with a major version other than 1
        /// (for example `HTTP/2.0`): 505. Malformed versions and `HTTP/1.x` beyond 1.1 are `badRequest`.
        package static let versionNotSupported = Code(.versionNotSupported)

        /// The HTTP status code to answer with.
        package var status: Int {
            switch base {
            case .badRequest: 400
            case .headersTooLarge: 431
            case .versionNotSupported: 505
            }
        }

        /// The short snake_case code for the JSON error body's `error` field (SPEC "Error bodies").
        package var name: String {
            switch base {
            case .badRequest: "bad_request"
            case .headersTooLarge: "headers_too_large"
            case .versionNotSupported: "http_version_not_supported"
            }
        }

        /// The short code, for logs.
        package var description: String { name }
    }

    /// The kind of failure.
    package var code: Code
    /// The HTTP status to answer with; always `code.status`.
    package var status: Int
    /// One sentence for a person, safe to send to the client (it never quotes request bytes).
    package var message: String

    /// Creates an error whose status is the code's.
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: One sentence for a person, safe to send to the client.
    package init(_ code: Code, _ message: String) {
        self.code = code
        self.status = code.status
        self.message = message
    }

    /// `"<status> <code>: <message>"`, one line for logs.
    package var description: String {
        "\(status) \(code.name): \(message)"
    }

    /// A 400 error.
    static func badRequest(_ message: String) -> HTTPParseError {
        HTTPParseError(.badRequest, message)
    }

    /// A 431 error.
    static func headersTooLarge(_ message: String) -> HTTPParseError {
        HTTPParseError(.headersTooLarge, message)
    }
}
