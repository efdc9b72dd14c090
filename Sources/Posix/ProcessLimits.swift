import Glibc

/// Process-wide limits the receiver needs, set once at start.
package enum ProcessLimits {
    /// Raises the soft open-file limit to the hard limit (as nginx's worker_rlimit_nofile does), so
    /// thousands of idle connections are bounded by memory, not by the default 1024 descriptors.
    /// - Returns: the soft limit now in force.
    @discardableResult
    package static func raiseOpenFileLimit() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(raised.rlim_cur) }
        }
        return UInt64(limit.rlim_cur)
    }
}
