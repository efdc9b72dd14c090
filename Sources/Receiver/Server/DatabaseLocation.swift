package import Postgres

/// Where webhookd's database is: a URL given with `--database-url`/`DATABASE_URL`, or the embedded
/// cluster under `--data-dir` (SPEC: the default when no URL is given).
package enum DatabaseLocation: Sendable {
    case url(String)
    case embedded(EmbeddedCluster)

    /// The URL when one is given (flag first, then `DATABASE_URL`), else the embedded cluster.
    package static func resolve(url: String?, dataDirectory: String) -> DatabaseLocation {
        if let url, !url.isEmpty { return .url(url) }
        return .embedded(EmbeddedCluster(dataDirectory: dataDirectory))
    }

    /// Makes the database reachable: for the embedded cluster this initialises and starts it if needed.
    /// - Throws: `PostgresError` with one line for a person.
    package func open() throws(PostgresError) -> DatabaseHandle {
        switch self {
        case .url(let url):
            return DatabaseHandle(url: url, parameters: [:], lease: nil)
        case .embedded(let cluster):
            let lease = try cluster.start()
            return DatabaseHandle(url: nil, parameters: lease.connectionParameters(), lease: lease)
        }
    }
}

/// An open way to the database: connects new sessions, and for the embedded cluster keeps it alive
/// until `release()`.
package final class DatabaseHandle: Sendable {
    private let url: String?
    private let parameters: [String: String]
    /// The embedded cluster's lease, nil for a URL.
    package let lease: EmbeddedClusterLease?

    init(url: String?, parameters: [String: String], lease: EmbeddedClusterLease?) {
        self.url = url
        self.parameters = parameters
        self.lease = lease
    }

    /// Opens a new session.
    /// > Warning: blocks on the network.
    package func connect(
        connectTimeoutSeconds: Int = 5, applicationName: String = "webhookd", statementTimeout: Duration? = nil
    ) throws(PostgresError) -> PGConnection {
        var parameters = parameters
        // No statement may block a receiver forever (a lock behind an ALTER TABLE, a stuck peer): bounded
        // statements and locks, TCP keepalives and a user timeout so a vanished server is noticed.
        parameters["options"] = Self.sessionOptions(
            userOptions: url.flatMap { PGConnection.connectionOption("options", in: $0) },
            statementTimeout: statementTimeout)
        parameters["keepalives"] = "1"
        parameters["keepalives_idle"] = "10"
        parameters["keepalives_interval"] = "5"
        parameters["keepalives_count"] = "3"
        parameters["tcp_user_timeout"] = "20000"
        return try PGConnection(
            url: url, parameters: parameters, connectTimeoutSeconds: connectTimeoutSeconds,
            applicationName: applicationName)
    }

    /// What every session runs with, after the user's own `options` (so ours win where both set one):
    /// bounded statements and locks, and durable commits whatever the role or database default says
    /// (a 2xx must mean the WAL is flushed; startup options outrank `ALTER ROLE … SET`).
    package static func sessionOptions(userOptions: String?, statementTimeout: Duration? = nil) -> String {
        // A lock wait longer than the statement timeout would only ever end as a statement timeout.
        let statementMilliseconds = statementTimeout.map { max(1, Int($0.components.seconds)) * 1000 } ?? 15000
        let lockMilliseconds = min(10000, statementMilliseconds)
        let ours =
            "-c statement_timeout=\(statementMilliseconds) -c lock_timeout=\(lockMilliseconds)"
            + " -c idle_in_transaction_session_timeout=60000 -c synchronous_commit=on"
        guard let userOptions, !userOptions.allSatisfy(\.isWhitespace) else { return ours }
        return userOptions + " " + ours
    }

    /// What to call it in messages: the embedded cluster's URL (no password) or "--database-url".
    package var displayName: String { lease?.displayURL ?? "the database at --database-url" }

    /// Stops the embedded cluster if this process was its last user; nothing for a URL.
    package func release() {
        lease?.release()
    }
}
