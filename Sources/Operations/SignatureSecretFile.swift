import Bytes
package import Receiver

/// What a `--secret-file` holds, as `clients signature` reads it: a Standard Webhooks secret is `whsec_<base64>`
/// (the key is the decoded bytes); a GitHub or Stripe secret is used as given. One trailing newline is ignored.
package enum SignatureSecretFile {
    /// The HMAC key in `contents` of the file at `path`.
    /// - Throws: `.invalidInput` naming the file when it is empty or not a Standard Webhooks secret.
    package static func key(_ contents: [UInt8], path: String, scheme: SignatureScheme) throws(RegistryError)
        -> [UInt8]
    {
        var text = contents
        if text.last == UInt8(ascii: "\n") { text.removeLast() }
        if text.last == UInt8(ascii: "\r") { text.removeLast() }
        guard !text.isEmpty else { throw RegistryError(.invalidInput, "--secret-file \(path) is empty") }
        guard scheme == .standardWebhooks else { return text }
        let prefix = Array("whsec_".utf8)
        guard text.starts(with: prefix), let key = Base64.decode(text.dropFirst(prefix.count)), !key.isEmpty else {
            throw RegistryError(
                .invalidInput, "--secret-file \(path) does not hold a Standard Webhooks secret (whsec_<base64>)")
        }
        return key
    }
}
