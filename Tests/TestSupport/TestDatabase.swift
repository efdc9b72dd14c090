import Foundation
import Glibc
package import Postgres

// MARK: - TestCluster

/// The one PostgreSQL cluster of a test process: an `EmbeddedCluster` in a fresh directory under /tmp,
/// tuned for tests (no fsync, no full-page writes, 300 connections), started on first use and stopped
/// (and its directory removed) when the process exits.
///
/// There is no fallback and no skip: when the cluster cannot start, every use of `shared` throws the
/// cluster's own one-line message, so each integration test fails with it (STYLE.md §6.40).
///
/// Immutable after start; the lease it holds is itself Sendable, so the type is Sendable.
package final class TestCluster: Sendable {
    /// The loopback port the server listens on.
    package let port: Int
    /// The cluster's data directory (`--data-dir` of the embedded cluster), removed at exit.
    package let dataDirectory: String
    private let lease: EmbeddedClusterLease

    /// The outcome of the one start attempt of this process (Swift runs a static initialiser once, and
    /// concurrent first users wait for it).
    private static let outcome: Result<TestCluster, any Error> = Result { try TestCluster() }

    /// The process-wide cluster, started on first use.
    /// - Throws: why PostgreSQL could not be started (every caller gets the same error).
    package static var shared: TestCluster {
        get throws { try outcome.get() }
    }

    /// The process-wide cluster, started on first use (the same as `shared`).
    /// - Throws: why PostgreSQL could not be started.
    package static func start() throws -> TestCluster { try outcome.get() }

    /// The process-wide cluster, started on first use (the same as `shared`).
    /// - Throws: why PostgreSQL could not be started.
    package static func get() throws -> TestCluster { try outcome.get() }

    private init() throws {
        let directory = try TestCluster.makeReachableDirectory()
        var cluster = EmbeddedCluster(dataDirectory: directory)
        // Durability is worthless for a throw-away cluster; these make initdb and commits much faster.
        cluster.serverSettings = [
            "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "300",
        ]
        cluster.initdbArguments = ["--no-sync"]
        let lease: EmbeddedClusterLease
        do {
            lease = try cluster.start()
        } catch {
            // Nothing is left running, but initdb's files are: they would only fill /tmp.
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        self.lease = lease
        self.port = lease.port
        self.dataDirectory = cluster.dataDirectory
        atexit { TestCluster.stopAtExit() }
    }

    /// Stops the server and removes its directory; registered with `atexit` once the cluster runs.
    private static func stopAtExit() {
        guard case .success(let cluster) = outcome else { return }
        cluster.lease.release()
        // A leftover directory under /tmp harms nothing, so a failed removal is not worth reporting.
        try? FileManager.default.removeItem(atPath: cluster.dataDirectory)
    }

    /// A fresh directory under /tmp (mode 0755) that the `postgres` user can reach: as root, the embedded
    /// cluster runs initdb and the server as `postgres`. For tests that start a cluster of their own.
    package static func makeReachableDirectory() throws -> String {
        var template = Array("/tmp/webhookd-pgtest-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { buffer in
            // The buffer comes from a non-empty array, so it has a base address.
            mkdtemp(buffer.baseAddress!)
        }
        guard created != nil else {
            throw PostgresError(
                .clusterFailed, "cannot create a temporary directory under /tmp: \(String(cString: strerror(errno)))")
        }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        chmod(path, 0o755)
        return path
    }

    /// The pid of the PostgreSQL server of the embedded cluster under `dataDirectory` (from
    /// `postgres/postmaster.pid`) while that process is alive, else nil: no file, or a dead or zombie
    /// process (`kill(pid, 0)` cannot tell a zombie from a live process; /proc can).
    package static func serverPID(dataDirectory: String) -> Int32? {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postgres/postmaster.pid", encoding: .utf8),
            let first = text.split(separator: "\n").first, let pid = Int32(first)
        else { return nil }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let nameEnd = stat.lastIndex(of: ")")
        else { return nil }
        let state = stat[stat.index(after: nameEnd)...].split(separator: " ").first
        return state == "Z" || state == "X" ? nil : pid
    }

    /// libpq keyword/value parameters for `database` on this cluster (host, port, user, password,
    /// dbname).
    package func parameters(database: String) -> [String: String] {
        lease.connectionParameters(database: database)
    }

    /// A `postgresql://` URL for `database`, with the password percent-encoded: what `--database-url`
    /// and `DATABASE_URL` take.
    package func url(database: String) -> String {
        let parameters = lease.connectionParameters(database: database)
        let user = TestCluster.percentEncoded(parameters["user"] ?? EmbeddedCluster.user)
        let password = TestCluster.percentEncoded(parameters["password"] ?? "")
        return "postgresql://\(user):\(password)@127.0.0.1:\(port)/\(TestCluster.percentEncoded(database))"
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    static func percentEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || "-._~".unicodeScalars.contains(scalar)
            {
                encoded.unicodeScalars.append(scalar)
            } else {
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return encoded
    }
}

// MARK: - TestDatabase

/// A database of its own for one test, on the shared `TestCluster`. Tests never share a database, so
/// they can run in parallel; the databases go away with the cluster at exit.
package struct TestDatabase: Sendable {
    /// The database name, `test_` followed by 16 random hex digits.
    package let name: String
    /// A `postgresql://` URL for `--database-url`/`DATABASE_URL`.
    package let url: String
    /// libpq keyword/value parameters (with `dbname`).
    package let parameters: [String: String]

    /// Creates a fresh database on the shared cluster.
    /// - Parameter migrated: when true (the default), the repository's `sql/` migrations are applied
    ///   before it is returned.
    /// - Throws: the cluster's start failure, or the database's creation or migration failure.
    /// > Warning: blocks on the network (and on the cluster's start the first time).
    package static func create(migrated: Bool = true) throws -> TestDatabase {
        let cluster = try TestCluster.shared
        let name = "test_" + randomHex(byteCount: 8)
        let admin = try PGConnection(
            parameters: cluster.parameters(database: "postgres"), applicationName: "webhookd-tests")
        defer { admin.close() }
        // CREATE DATABASE takes no bound parameters. The name is our own random hex digits, never input.
        try admin.query("CREATE DATABASE \(name)")
        let database = TestDatabase(
            name: name, url: cluster.url(database: name), parameters: cluster.parameters(database: name))
        if migrated {
            let connection = try database.connect()
            defer { connection.close() }
            try Migrator(directory: sqlDirectory).apply(on: connection)
        }
        return database
    }

    /// A new session on this database.
    /// > Warning: blocks on the network; the connection belongs to the calling thread.
    package func connect() throws -> PGConnection {
        try PGConnection(parameters: parameters, applicationName: "webhookd-tests")
    }

    /// The absolute path of the repository's `sql/` directory (found from this file's location).
    package static var sqlDirectory: String {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // Tests/TestSupport
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // the repository
            .appendingPathComponent("sql").path
    }

    /// `byteCount` random bytes as lower-case hex.
    package static func randomHex(byteCount: Int) -> String {
        (0..<byteCount).map { _ in String(UInt8.random(in: 0...255), radix: 16).leftPadded(to: 2) }.joined()
    }
}

// MARK: - RefusingLoopbackPort

/// A 127.0.0.1 port where connections are refused: a TCP socket is bound to it but never listens, so
/// no other process can take the port while the value lives. For "database unreachable" tests without a
/// fixed port (STYLE.md §6.42).
///
/// Sendable because its only state is the descriptor number and port, both immutable.
package final class RefusingLoopbackPort: Sendable {
    /// The port; connecting to 127.0.0.1 on it fails with "Connection refused".
    package let port: Int
    private let descriptor: Int32

    /// Binds a socket to a kernel-chosen loopback port without listening.
    /// - Throws: `PostgresError.invalidConfiguration` when no socket can be bound.
    package init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw PostgresError(.invalidConfiguration, "socket: \(String(cString: strerror(errno)))")
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length) == 0 && getsockname(descriptor, generic, &length) == 0
            }
        }
        guard bound else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw PostgresError(.invalidConfiguration, "bind 127.0.0.1:0: \(reason)")
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit {
        close(descriptor)
    }
}

extension String {
    /// The string with leading zeros added up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
