extension TLSError {
    /// Whether a `webhookd certs` command reports this error as bad usage (exit 64: a file or value it was
    /// given cannot be used) rather than a refusal or failure (exit 1).
    package var isUsageProblem: Bool {
        code == .input || code == .configuration || code == .certificate || code == .key
    }
}
