import ArgumentParser
import Foundation
import Operations
import Posix
import Receiver
import TLS

/// `webhookd serve`'s flags (SPEC "webhookd serve flags"); each also reads WEBHOOKD_<FLAG>.
struct ServeOptions: ParsableArguments {
    @Option(help: "Address to listen on, HOST:PORT (env WEBHOOKD_LISTEN) [0.0.0.0:8443]") var listen: String?
    @Option(help: "Server certificate chain, PEM (env WEBHOOKD_CERT)") var cert: String?
    @Option(help: "Server private key, PEM, may be encrypted (env WEBHOOKD_KEY)") var key: String?
    @Option(
        name: .customLong("key-passphrase-file"),
        help: "File holding the key's passphrase (env WEBHOOKD_KEY_PASSPHRASE_FILE)")
    var keyPassphraseFile: String?
    @Option(help: "Server identity as PKCS#12, instead of --cert/--key (env WEBHOOKD_PKCS12)") var pkcs12: String?
    @Option(
        name: .customLong("client-ca"),
        help: "PEM bundle of the CAs trusted to issue client certificates (required; env WEBHOOKD_CLIENT_CA)")
    var clientCA: String?
    @Option(name: .customLong("crl"), help: "CRL file, PEM (repeatable; env WEBHOOKD_CRL, comma-separated)") var crls:
        [String] = []
    @Option(
        name: .customLong("verify-depth"),
        help: "Most intermediate CAs allowed in a client chain (env WEBHOOKD_VERIFY_DEPTH) [4]")
    var verifyDepth: Int?
    @Option(
        name: .customLong("admin-listen"),
        help: "Admin listener HOST:PORT or 'off' (env WEBHOOKD_ADMIN_LISTEN) [127.0.0.1:9090]")
    var adminListen: String?
    @Option(name: .customLong("max-body-bytes"), help: "Largest accepted body (env WEBHOOKD_MAX_BODY_BYTES) [1048576]")
    var maxBodyBytes: Int?
    @Option(help: "Event-loop threads (env WEBHOOKD_WORKERS) [number of cores]") var workers: Int?
    @Option(name: .customLong("log-format"), help: "text or json (env WEBHOOKD_LOG_FORMAT) [text]") var logFormat:
        String?
    @Flag(
        name: .customLong("log-requests"),
        help: "Log one line per answered request, never its body (env WEBHOOKD_LOG_REQUESTS=true) [off]")
    var logRequests = false
    @Option(name: .customLong("handshake-timeout"), help: "Seconds for the TLS handshake [10]") var handshakeTimeout:
        Int?
    @Option(name: .customLong("header-timeout"), help: "Seconds for a whole request head [10]") var headerTimeout: Int?
    @Option(name: .customLong("body-timeout"), help: "Seconds without body progress [30]") var bodyTimeout: Int?
    @Option(name: .customLong("idle-timeout"), help: "Seconds between keep-alive requests [60]") var idleTimeout: Int?
    @Option(name: .customLong("rejections-per-second"), help: "Most refusals stored per second [100]")
    var rejectionsPerSecond: Int?
    @Option(name: .customLong("database-wait"), help: "Seconds to wait for the database at start [30]")
    var databaseWait: Int?
    @Option(
        name: .customLong("commit-timeout"),
        help: "Seconds a delivery may wait for its commit before it is answered 503 (env WEBHOOKD_COMMIT_TIMEOUT) [30]")
    var commitTimeout: Int?
    @Option(
        name: .customLong("registry-max-age"),
        help:
            "Seconds the client registry may go unrefreshed before requests get 503 (env WEBHOOKD_REGISTRY_MAX_AGE) [60]"
    )
    var registryMaxAge: Int?
    @Option(
        name: .customLong("signature-tolerance"),
        help:
            "Seconds a signed timestamp may be from now, either way (env WEBHOOKD_SIGNATURE_TOLERANCE) [300]"
    )
    var signatureTolerance: Int?
    @Option(
        name: .customLong("max-connections"),
        help: "Open connections across all workers; past it accepting pauses (env WEBHOOKD_MAX_CONNECTIONS) [10000]")
    var maxConnections: Int?
    @Option(
        name: .customLong("client-max-connections"),
        help: "A client's open connections when its row sets none (env WEBHOOKD_CLIENT_MAX_CONNECTIONS) [256]")
    var clientMaxConnections: Int?
    @Option(
        name: .customLong("max-buffered-bytes"),
        help: "Request body bytes held in memory in all (env WEBHOOKD_MAX_BUFFERED_BYTES) [268435456]")
    var maxBufferedBytes: Int?
    @Option(
        name: .customLong("client-max-buffered-bytes"),
        help:
            "Request body bytes one client may hold in memory (env WEBHOOKD_CLIENT_MAX_BUFFERED_BYTES) [a quarter of --max-buffered-bytes, at least --max-body-bytes]"
    )
    var clientMaxBufferedBytes: Int?
    @Option(
        name: .customLong("body-deadline"),
        help: "Seconds for a whole body after its head, however steady (env WEBHOOKD_BODY_DEADLINE) [60]")
    var bodyDeadline: Int?
    @Option(
        name: .customLong("retention-keep"),
        help:
            "Every hour, delete deliveries and rejections older than this: 30s, 15m, 2h, 7d (env WEBHOOKD_RETENTION_KEEP) [off]"
    )
    var retentionKeep: String?
    @Option(
        name: .customLong("retention-purge-bodies-after"),
        help:
            "With --retention-keep, empty the bodies of deliveries older than this (env WEBHOOKD_RETENTION_PURGE_BODIES_AFTER)"
    )
    var retentionPurgeBodiesAfter: String?

    /// The hourly retention policy, nil without `--retention-keep`; a bad value exits 64 naming the flag.
    func retentionPolicy() throws -> RetentionPolicy? {
        let purge = Environment.value(retentionPurgeBodiesAfter, flag: "retention-purge-bodies-after")
        guard let keep = Environment.value(retentionKeep, flag: "retention-keep") else {
            if purge != nil {
                throw CommandFailure.usage("--retention-purge-bodies-after needs --retention-keep")
            }
            return nil
        }
        do throws(RetentionError) {
            return try RetentionPolicy(
                keep: keep, purgeBodiesAfter: purge, keepFlag: "--retention-keep",
                purgeFlag: "--retention-purge-bodies-after")
        } catch {
            throw CommandFailure.usage(error.message)
        }
    }

    /// The log format, or exit 64.
    func resolvedLogFormat() throws -> LineLogHandler.Format {
        let text = Environment.value(logFormat, flag: "log-format") ?? "text"
        guard let format = LineLogHandler.Format(rawValue: text) else {
            throw CommandFailure.usage("--log-format must be text or json, not '\(text)'")
        }
        return format
    }

    /// SPEC's configuration, validated; every problem is one line naming the flag (exit 64).
    func configuration(defaultListen: String = "0.0.0.0:8443") throws -> ReceiverConfiguration {
        let listenText = Environment.value(listen, flag: "listen") ?? defaultListen
        let address: SocketAddress
        do {
            address = try SocketAddress(parsing: listenText)
        } catch {
            throw CommandFailure.usage("--listen \(error)")
        }
        guard let clientCA = Environment.value(clientCA, flag: "client-ca") else {
            throw CommandFailure.usage("--client-ca is required: the PEM bundle of CAs that issue client certificates")
        }
        let cert = Environment.value(cert, flag: "cert")
        let key = Environment.value(key, flag: "key")
        let pkcs12 = Environment.value(pkcs12, flag: "pkcs12")
        if pkcs12 == nil && (cert == nil || key == nil) {
            throw CommandFailure.usage("give the server identity with --cert and --key, or with --pkcs12")
        }
        if pkcs12 != nil && (cert != nil || key != nil) {
            throw CommandFailure.usage("--pkcs12 replaces --cert/--key; give one or the other")
        }
        let tls = TLSServerConfiguration(
            certificateChainPath: cert, privateKeyPath: key,
            keyPassphrasePath: Environment.value(keyPassphraseFile, flag: "key-passphrase-file"), pkcs12Path: pkcs12,
            clientCAPath: clientCA, crlPaths: Environment.values(crls, flag: "crl"),
            verifyDepth: try Environment.integer(verifyDepth, flag: "verify-depth", default: 4))
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var configuration = ReceiverConfiguration(
            listen: address, tls: tls, workers: try Environment.integer(workers, flag: "workers", default: cores))
        guard (1...256).contains(configuration.workers) else {
            throw CommandFailure.usage("--workers must be between 1 and 256")
        }
        configuration.maxBodyBytes = try Environment.integer(maxBodyBytes, flag: "max-body-bytes", default: 1_048_576)
        // A body travels in one statement parameter and may become one jsonb value: PostgreSQL caps a
        // jsonb at 256 MiB and any value at 1 GB.
        guard (0...268_435_456).contains(configuration.maxBodyBytes) else {
            throw CommandFailure.usage("--max-body-bytes must be between 0 and 268435456 (256 MiB)")
        }
        configuration.handshakeTimeout = .seconds(try positive(handshakeTimeout, "handshake-timeout", 10))
        configuration.headerTimeout = .seconds(try positive(headerTimeout, "header-timeout", 10))
        configuration.bodyTimeout = .seconds(try positive(bodyTimeout, "body-timeout", 30))
        configuration.idleTimeout = .seconds(try positive(idleTimeout, "idle-timeout", 60))
        configuration.rejectionsPerSecond = try positive(rejectionsPerSecond, "rejections-per-second", 100)
        configuration.commitTimeout = .seconds(try positive(commitTimeout, "commit-timeout", 30))
        configuration.registryMaxAge = .seconds(try positive(registryMaxAge, "registry-max-age", 60))
        configuration.signatureToleranceSeconds = Int64(try positive(signatureTolerance, "signature-tolerance", 300))
        configuration.maxConnections = try positive(maxConnections, "max-connections", 10_000)
        configuration.clientMaxConnections = try positive(clientMaxConnections, "client-max-connections", 256)
        configuration.maxBufferedBytes = try positive(maxBufferedBytes, "max-buffered-bytes", 268_435_456)
        guard configuration.maxBufferedBytes >= configuration.maxBodyBytes else {
            throw CommandFailure.usage(
                "--max-buffered-bytes (\(configuration.maxBufferedBytes)) must be at least --max-body-bytes (\(configuration.maxBodyBytes))"
            )
        }
        let defaultShare = max(configuration.maxBufferedBytes / 4, configuration.maxBodyBytes)
        configuration.clientMaxBufferedBytes = try positive(
            clientMaxBufferedBytes, "client-max-buffered-bytes", defaultShare)
        guard
            (configuration.maxBodyBytes...configuration.maxBufferedBytes).contains(configuration.clientMaxBufferedBytes)
        else {
            throw CommandFailure.usage(
                "--client-max-buffered-bytes (\(configuration.clientMaxBufferedBytes)) must be between --max-body-bytes (\(configuration.maxBodyBytes)) and --max-buffered-bytes (\(configuration.maxBufferedBytes))"
            )
        }
        configuration.bodyDeadline = .seconds(try positive(bodyDeadline, "body-deadline", 60))
        configuration.adminListen = try resolvedAdminListen()
        configuration.logRequests = try resolvedLogRequests()
        return configuration
    }

    /// `--admin-listen HOST:PORT|off` [127.0.0.1:9090]; nil when off.
    private func resolvedAdminListen() throws -> SocketAddress? {
        let text = Environment.value(adminListen, flag: "admin-listen") ?? "127.0.0.1:9090"
        guard text != "off" else { return nil }
        do {
            return try SocketAddress(parsing: text)
        } catch {
            throw CommandFailure.usage("--admin-listen \(error) (or 'off')")
        }
    }

    /// `--log-requests`, else `WEBHOOKD_LOG_REQUESTS` (true/false/1/0).
    private func resolvedLogRequests() throws -> Bool {
        if logRequests { return true }
        let name = Environment.variableName(forFlag: "log-requests")
        guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else { return false }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw CommandFailure.usage("\(name)=\(text) is not true or false")
        }
    }

    /// `--database-wait` as a duration.
    func databaseWaitDuration() throws -> Duration {
        .seconds(try Environment.integer(databaseWait, flag: "database-wait", default: 30))
    }

    private func positive(_ given: Int?, _ flag: String, _ defaultValue: Int) throws -> Int {
        let value = try Environment.integer(given, flag: flag, default: defaultValue)
        guard value > 0 else { throw CommandFailure.usage("--\(flag) must be a positive number") }
        return value
    }
}
