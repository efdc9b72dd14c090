import Glibc

/// The file layout of a `webhookd certs --dir` directory (SPEC "`certs` files"): the dev CA, the server pair,
/// the CA's CRL and one certificate, key and bundle per client under `clients/`.
package struct CertsDirectory: Sendable, Hashable {
    /// The directory as given (without a trailing slash).
    package let path: String

    /// Uses `path` (default `certs`) as the directory.
    package init(_ path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// `ca.crt`: the dev CA certificate.
    package var caCertificate: String { "\(path)/ca.crt" }
    /// `ca.key`: the dev CA key (mode 0600).
    package var caKey: String { "\(path)/ca.key" }
    /// `ca.crl`: the dev CA's revocation list, PEM.
    package var caCRL: String { "\(path)/ca.crl" }
    /// `server.crt`: the server certificate.
    package var serverCertificate: String { "\(path)/server.crt" }
    /// `server.key`: the server key (mode 0600).
    package var serverKey: String { "\(path)/server.key" }
    /// `clients/`: where client certificates go.
    package var clientsDirectory: String { "\(path)/clients" }

    /// `clients/ID.crt`.
    package func clientCertificate(_ clientID: String) -> String { "\(clientsDirectory)/\(clientID).crt" }
    /// `clients/ID.key` (mode 0600).
    package func clientKey(_ clientID: String) -> String { "\(clientsDirectory)/\(clientID).key" }
    /// `clients/ID.pem`: certificate then key (mode 0600).
    package func clientBundle(_ clientID: String) -> String { "\(clientsDirectory)/\(clientID).pem" }

    // MARK: - Rules shared by the certs commands

    /// The most days a `--days` flag accepts (100 years).
    static let maximumDays = 36_500

    /// Checks a `--days` value.
    /// - Throws: `TLSError` (`.input`) when `days` is outside 1...36500.
    static func validateDays(_ days: Int, flag: String = "--days") throws(TLSError) {
        guard (1...maximumDays).contains(days) else {
            throw TLSError(code: .input, message: "\(flag) \(days) must be between 1 and \(maximumDays)")
        }
    }

    /// Why `clientID` cannot be a client id (and a file name under `clients/`), or `nil` when it can.
    ///
    /// Same rule as `webhookd clients add` (1–255 bytes of UTF-8, no control characters), plus no `/` and not
    /// `.` or `..`, because the id names files.
    package static func clientIDProblem(_ clientID: String) -> String? {
        let bytes = clientID.utf8
        guard !bytes.isEmpty, bytes.count <= 255 else { return "must be 1 to 255 bytes long" }
        if clientID.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "must not contain control characters"
        }
        if bytes.contains(UInt8(ascii: "/")) || clientID == "." || clientID == ".." {
            return "must not contain '/' or be '.' or '..' (it names files under clients/)"
        }
        return nil
    }

    /// Refuses to replace any of `paths` unless `force` (SPEC: `init` refuses to overwrite without `--force`).
    /// - Throws: `TLSError` (`.refused`) naming the first existing file.
    static func refuseOverwriting(_ paths: [String], force: Bool, what: String) throws(TLSError) {
        guard !force, let existing = paths.first(where: FileIO.exists) else { return }
        throw TLSError(
            code: .refused, message: "\(existing) already exists; pass --force to replace \(what)")
    }
}

/// Formats unix seconds as ISO 8601 UTC with seconds, e.g. "2026-01-01T12:00:00Z".
func utcTimestampString(_ seconds: Int64) -> String {
    var time = time_t(seconds)
    var parts = tm()
    guard gmtime_r(&time, &parts) != nil else { return "\(seconds)" }
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(utcDateString(seconds))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}
