internal import COpenSSL

/// Owns one memory `BIO *`, used to hand PEM/DER bytes to OpenSSL and to collect its text output.
///
/// Confined to the thread that created it.
final class MemoryBIO {
    let raw: OpaquePointer

    /// An empty, writable memory BIO.
    init() throws(TLSError) {
        ERR_clear_error()
        guard let raw = BIO_new(BIO_s_mem()) else {
            throw TLSError.drained(.system, "could not allocate an OpenSSL memory BIO")
        }
        self.raw = raw
    }

    /// A memory BIO holding a copy of `bytes`.
    convenience init(bytes: [UInt8]) throws(TLSError) {
        try self.init()
        let written = bytes.withUnsafeBytes { buffer -> Int32 in
            guard let base = buffer.baseAddress, !buffer.isEmpty else { return 0 }
            return BIO_write(raw, base, Int32(buffer.count))
        }
        guard written == Int32(bytes.count) else {
            throw TLSError.drained(.system, "could not fill an OpenSSL memory BIO")
        }
    }

    deinit {
        BIO_free(raw)
    }

    /// Everything written to the BIO so far.
    var bytes: [UInt8] {
        var data: UnsafeMutablePointer<CChar>? = nil
        let length = COpenSSL_BIO_get_mem_data(raw, &data)
        guard let data, length > 0 else { return [] }
        return data.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// Everything written to the BIO so far, as UTF-8 text.
    var string: String {
        String(decoding: bytes, as: UTF8.self)
    }
}
