import Foundation

/// HMAC-SHA256 computed by the `openssl` command, so signature tests never check the code under test against
/// itself.
package enum OpenSSLHMAC {
    /// The MAC of `message` under `key`, as 32 bytes, from `openssl mac -digest SHA256 -macopt hexkey:… HMAC`.
    package static func mac(key: [UInt8], message: [UInt8]) throws -> [UInt8] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hmac-\(UUID().uuidString)")
        try Data(message).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }  // a leftover temp file harms nothing
        let hexKey = key.map { String(format: "%02x", $0) }.joined()
        let result = try TestSupportProcess.run(
            "/usr/bin/openssl", ["mac", "-digest", "SHA256", "-macopt", "hexkey:\(hexKey)", "-in", file.path, "HMAC"])
        let hex = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard result.status == 0, hex.count == 64 else {
            throw TestSupportProcessFailure(description: "openssl mac failed: \(result.stderr)")
        }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }

    /// `mac` as lower-case hex.
    package static func hex(key: [UInt8], message: [UInt8]) throws -> String {
        try mac(key: key, message: message).map { String(format: "%02x", $0) }.joined()
    }
}
