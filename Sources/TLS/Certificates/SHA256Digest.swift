import Bytes
internal import COpenSSL

/// SHA-256 through OpenSSL's one-shot `EVP_Digest`, for payload fingerprints (`body_sha256`).
package enum SHA256Digest {
    /// SHA-256 fetched from the default provider once: `EVP_sha256()` makes OpenSSL 3 look the algorithm
    /// up again on every call, which cost more than hashing a 1 KiB body (callgrind).
    private static let algorithm = Algorithm()

    /// Owns the fetched `EVP_MD`; it lives as long as the process.
    private final class Algorithm: Sendable {
        nonisolated(unsafe) let raw: OpaquePointer?
        init() { raw = EVP_MD_fetch(nil, "SHA256", nil) }
    }

    /// The SHA-256 of `bytes` as 64 lower-case hex digits.
    package static func hex(_ bytes: [UInt8]) -> String {
        var digest = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { source in
            withUnsafeMutableBytes(of: &digest) { output in
                EVP_Digest(
                    source.baseAddress, source.count, output.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    &length, algorithm.raw ?? EVP_sha256(), nil)
            }
        }
        // EVP_Digest returns 1 on success; SHA-256 over memory only fails when allocation fails.
        precondition(ok == 1 && length == 32, "EVP_Digest(SHA-256) failed")
        return withUnsafeBytes(of: &digest) { Hex.string($0) }
    }
}
