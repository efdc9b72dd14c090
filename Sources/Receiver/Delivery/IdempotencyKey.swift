package import HTTP1

/// The idempotency key rule (SPEC "Idempotency"): the first of `webhook-id`, `X-GitHub-Delivery`,
/// `Idempotency-Key` that is present and non-empty. A key is compared byte for byte in the database, so
/// it is kept exactly or refused: never replaced, trimmed or normalised.
package enum IdempotencyKey {
    /// The headers that carry it, in SPEC order.
    package static let headerNames = ["webhook-id", "X-GitHub-Delivery", "Idempotency-Key"]
    /// Longer keys are refused: they are ids, and a btree entry has a size limit.
    package static let maxBytes = 1_024

    /// Why a request's bytes cannot be stored as they came.
    package enum Problem: Equatable, Error {
        /// The key is not valid UTF-8, holds a control character, or is over `maxBytes`.
        case invalidKey(header: String, why: String)
        /// Another header value is not valid UTF-8.
        case headerNotUTF8(header: String)
    }

    /// The request's key (nil without one), or why the request must be refused.
    package static func of(_ head: HTTPRequestHead) -> Result<String?, Problem> {
        var key: String?
        for name in headerNames where key == nil {
            guard let header = head.firstHeader(named: name), !header.value.isEmpty
            else { continue }
            if let why = problem(with: header) { return .failure(.invalidKey(header: header.name, why: why)) }
            key = header.value
        }
        if let header = head.headers.first(where: { !$0.valueIsUTF8 }) {
            return .failure(.headerNotUTF8(header: header.name))
        }
        return .success(key)
    }

    private static func problem(with header: HTTPHeader) -> String? {
        guard header.valueIsUTF8 else { return "is not valid UTF-8" }
        guard header.value.utf8.count <= maxBytes else { return "is longer than \(maxBytes) bytes" }
        return header.value.unicodeScalars.contains(where: JSONString.isControl) ? "holds a control character" : nil
    }
}
