internal import COpenSSL

/// Owns one `SSL_SESSION *` reference (from `SSL_get1_session`), freed in `deinit`: a client's handle for
/// resuming a session on a later connection. Confined to the thread that created it.
package final class TLSSession {
    let raw: OpaquePointer

    /// Takes ownership of one reference to `session`.
    init(takingOwnership session: OpaquePointer) {
        self.raw = session
    }

    deinit {
        SSL_SESSION_free(raw)
    }

    /// Whether OpenSSL considers the session resumable.
    package var isResumable: Bool {
        SSL_SESSION_is_resumable(raw) == 1
    }
}
