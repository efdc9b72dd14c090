/// Every failure the `Postgres` module reports: an open `Code`, the SQLSTATE when the server sent one,
/// and a one-line `description` for a person. The full server text stays in `debugDescription`.
package struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of failure this is. Open, so cases can be added without breaking callers.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case connectionFailed = "connection failed"
            case connectionLost = "connection lost"
            case queryFailed = "query failed"
            case unexpectedResult = "unexpected result"
            case migrationFailed = "migration failed"
            case clusterFailed = "embedded cluster failed"
            case invalidConfiguration = "invalid configuration"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The server could not be reached or refused the session.
        package static let connectionFailed = Code(.connectionFailed)
        /// An established session broke (server stopped, network dropped).
        package static let connectionLost = Code(.connectionLost)
        /// The server rejected a statement; see `sqlState`.
        package static let queryFailed = Code(.queryFailed)
        /// A result had a shape the caller did not expect.
        package static let unexpectedResult = Code(.unexpectedResult)
        /// A migration file failed; the database is as it was before that file.
        package static let migrationFailed = Code(.migrationFailed)
        /// The embedded PostgreSQL cluster could not be initialised, started or stopped.
        package static let clusterFailed = Code(.clusterFailed)
        /// A URL, path or parameter given by the user is unusable.
        package static let invalidConfiguration = Code(.invalidConfiguration)

        package var description: String { base.rawValue }
    }

    /// The kind of failure.
    package var code: Code
    /// One sentence for a person: what failed and where (never the password, never request data).
    package var message: String
    /// The five-character SQLSTATE, when the server sent one (`23505`, `08006`, …).
    package var sqlState: String?
    /// The server's or libpq's own text, for logs and `debugDescription`.
    package var detail: String?
    /// The 1-based line of the statement text the server pointed at, when it did (migrations use it).
    package var statementLine: Int?

    /// Creates an error.
    package init(_ code: Code, _ message: String, sqlState: String? = nil, detail: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
    }

    /// True when the failure means the database is unreachable (connection class `08`, admin shutdown
    /// `57P01`–`57P03`, or a lost session), so a caller should answer 503 and retry later.
    /// The statement names a table that does not exist (SQLSTATE 42P01): on webhookd's own queries, the
    /// database was never migrated.
    package var isMissingTable: Bool { sqlState == "42P01" }

    package var isConnectionProblem: Bool {
        if code == .connectionFailed || code == .connectionLost { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }

    package var description: String { message }

    package var debugDescription: String {
        var text = "\(code): \(message)"
        if let sqlState { text += " [SQLSTATE \(sqlState)]" }
        if let detail, !detail.isEmpty { text += " — \(detail)" }
        return text
    }
}
