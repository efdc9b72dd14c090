import Bytes
internal import COpenSSL

/// SHA-256 through OpenSSL's one-shot `EVP_Digest`, for payload fingerprints (`body_sha256`).
package enum SHA256Digest {
    /// The SHA-256 of `bytes` as 64 lower-case hex digits.
    package static func hex(_ bytes: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { source in
            digest.withUnsafeMutableBufferPointer { output in
                EVP_Digest(source.baseAddress, source.count, output.baseAddress, &length, EVP_sha256(), nil)
            }
        }
        // EVP_Digest returns 1 on success; SHA-256 over memory only fails when allocation fails.
        precondition(ok == 1, "EVP_Digest(SHA-256) failed")
        return Hex.string(digest.prefix(Int(length)))
    }
}
