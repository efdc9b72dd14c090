import Bytes
internal import COpenSSL

/// HMAC-SHA256 through OpenSSL's `EVP_MAC`, and the constant-time comparison that goes with it (payload
/// signatures, issue 12).
package enum HMACSHA256 {
    /// HMAC fetched from the default provider once (fetching it per call is a lookup each time, as for SHA-256).
    private static let algorithm = Algorithm()

    /// Owns the fetched `EVP_MAC`; it lives as long as the process, and OpenSSL allows sharing it across threads.
    private final class Algorithm: Sendable {
        nonisolated(unsafe) let raw: OpaquePointer?
        init() { raw = EVP_MAC_fetch(nil, "HMAC", nil) }
    }

    /// The 32-byte HMAC-SHA256 of the concatenation of `parts` under `key` (the parts are fed one by one, so a
    /// large body is never copied to prepend an id or a timestamp).
    package static func mac(key: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        guard let algorithm = algorithm.raw, let context = EVP_MAC_CTX_new(algorithm) else {
            // Only an allocation failure or a provider without HMAC gets here: nothing can be verified at all.
            fatalError("OpenSSL has no HMAC (EVP_MAC_fetch or EVP_MAC_CTX_new failed)")
        }
        defer { EVP_MAC_CTX_free(context) }
        var output = [UInt8](repeating: 0, count: 32)
        var length = 0
        let ok: Bool = "digest".withCString { name in
            "SHA256".withCString { digest in
                // OSSL_PARAM_construct_utf8_string only reads the buffer here (the MAC copies the name).
                var parameters = [
                    OSSL_PARAM_construct_utf8_string(name, UnsafeMutablePointer(mutating: digest), 0),
                    OSSL_PARAM_construct_end(),
                ]
                // EVP_MAC_init, EVP_MAC_update and EVP_MAC_final return 1 on success.
                let initialised = key.withUnsafeBufferPointer { key in
                    EVP_MAC_init(context, key.baseAddress, key.count, &parameters) == 1
                }
                guard initialised else { return false }
                for part in parts {
                    let updated = part.withUnsafeBufferPointer { EVP_MAC_update(context, $0.baseAddress, $0.count) }
                    guard updated == 1 else { return false }
                }
                return output.withUnsafeMutableBufferPointer {
                    EVP_MAC_final(context, $0.baseAddress, &length, $0.count) == 1
                }
            }
        }
        precondition(ok && length == 32, "HMAC-SHA256 failed")
        return output
    }

    /// Whether `a` and `b` hold the same bytes, in time that depends only on their length (`CRYPTO_memcmp`).
    package static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { a in
            b.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 }
        }
    }
}
