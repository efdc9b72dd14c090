import Glibc

/// Small file helpers on plain libc: errors carry `strerror` text and the caller's flag, and secrets never
/// pass through Foundation buffers that cannot be wiped.
enum FileIO {
    /// Reads a whole file.
    /// - Parameter what: how to name the file in an error, e.g. "--cert /x/server.crt".
    static func read(_ path: String, what: String) throws(TLSError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw TLSError(code: .configuration, message: "\(what) cannot be read: \(errorText(errno))")
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw TLSError(code: .configuration, message: "\(what) cannot be read: \(errorText(errno))")
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
        }
        return result
    }

    /// Writes a file atomically: a temporary file in the same directory with `mode`, then `rename(2)`.
    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t) throws(TLSError) {
        let temporary = "\(path).tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw TLSError(code: .system, message: "cannot create \(temporary): \(errorText(errno))")
        }
        var failure: Int32 = 0
        // open(2) applies the umask; set the mode explicitly so 0600 and 0644 are exact.
        if fchmod(fd, mode) != 0 { failure = errno }
        var offset = 0
        while failure == 0 && offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                failure = errno
            } else {
                offset += count
            }
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure == 0 && rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            // The temporary file may or may not exist; nothing else to do if unlink fails.
            _ = unlink(temporary)
            throw TLSError(code: .system, message: "cannot write \(path): \(errorText(failure))")
        }
    }

    /// Creates a directory and its parents (like `mkdir -p`).
    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(TLSError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += String(component) + "/"
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw TLSError(code: .system, message: "cannot create directory \(prefix): \(errorText(errno))")
            }
        }
    }

    /// Whether a file exists at `path`.
    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// `strerror` text for an errno value.
    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

/// Formats unix seconds as a UTC calendar date, e.g. "2026-01-01".
func utcDateString(_ seconds: Int64) -> String {
    var time = time_t(seconds)
    var parts = tm()
    guard gmtime_r(&time, &parts) != nil else { return "\(seconds)" }
    let year = Int(parts.tm_year) + 1900
    let month = Int(parts.tm_mon) + 1
    let day = Int(parts.tm_mday)
    return "\(year)-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)"
}

/// Seconds since the epoch now.
func currentUnixTime() -> Int64 {
    Int64(time(nil))
}
