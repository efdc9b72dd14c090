import Foundation
import Glibc
import Postgres
import TestSupport
import Testing

/// `EmbeddedCluster` with a data directory of its own (not the shared test cluster, which these tests
/// would otherwise stop).
@Suite("EmbeddedCluster")
struct EmbeddedClusterTests {
    @Test("a second start while the first lease is held shares the server; the last release stops it")
    func leasesShareOneServer() throws {
        let directory = try TestCluster.makeReachableDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }  // Only tidying /tmp.
        var cluster = EmbeddedCluster(dataDirectory: directory)
        cluster.serverSettings = ["fsync": "off", "full_page_writes": "off"]
        cluster.initdbArguments = ["--no-sync"]

        let first = try cluster.start()
        let serverPID = try #require(TestCluster.serverPID(dataDirectory: directory))
        let second = try cluster.start()
        #expect(second.port == first.port)
        #expect(
            TestCluster.serverPID(dataDirectory: directory) == serverPID, "the second start must not start a server")
        #expect(second.psqlCommand.contains(String(second.port)))
        #expect(try query(second, "SELECT current_database()") == EmbeddedCluster.database)
        // Shipped settings apply beside the test's own (fsync off here, on as shipped).
        #expect(try query(second, "SHOW wal_init_zero") == "off")
        #expect(try query(second, "SHOW fsync") == "off")
        #expect(try query(second, "SHOW listen_addresses") == "127.0.0.1")

        first.release()
        first.release()  // idempotent
        #expect(TestCluster.serverPID(dataDirectory: directory) == serverPID, "a lease is still held")
        #expect(try query(second, "SELECT 1") == "1")

        second.release()
        #expect(TestCluster.serverPID(dataDirectory: directory) == nil)
        let error = #expect(throws: PostgresError.self) {
            try PGConnection(parameters: second.connectionParameters(), connectTimeoutSeconds: 5)
        }
        #expect(error?.description.lowercased().contains("refused") == true)

        // The initialised cluster starts again with the password it kept.
        let third = try cluster.start()
        defer { third.release() }
        #expect(try query(third, "SELECT current_user") == EmbeddedCluster.user)
    }

    @Test("secrets are owner-only: pgpass 0600, PGDATA 0700, a new data directory closed to others")
    func secretsAreOwnerOnly() throws {
        let parent = try TestCluster.makeReachableDirectory()
        defer { try? FileManager.default.removeItem(atPath: parent) }  // Only tidying /tmp.
        let directory = parent + "/data"
        var cluster = EmbeddedCluster(dataDirectory: directory)
        cluster.serverSettings = ["fsync": "off", "full_page_writes": "off"]
        cluster.initdbArguments = ["--no-sync"]
        let lease = try cluster.start()
        defer { lease.release() }
        func mode(_ path: String) -> mode_t {
            var info = stat()
            return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0o7777
        }
        #expect(mode(cluster.passwordFilePath) == 0o600)
        #expect(mode(directory + "/postgres") == 0o700)
        // Others may at most pass through (when PostgreSQL runs as `postgres`), never list or read.
        #expect(mode(directory) & 0o066 == 0)
        #expect(!FileManager.default.fileExists(atPath: directory + "/initdb-password"))
    }

    @Test("as root, a data directory the postgres user cannot reach is refused with a message naming it")
    func unreachableDataDirectoryIsNamed() throws {
        try #require(geteuid() == 0, "only root hands the cluster to the postgres user")
        // /root is mode 0700: the postgres user cannot enter it.
        let directory = "/root/webhookd-test-\(TestDatabase.randomHex(byteCount: 8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }  // Only tidying.
        let error = #expect(throws: PostgresError.self) { try EmbeddedCluster(dataDirectory: directory).start() }
        #expect(error?.code == .clusterFailed)
        #expect(error?.message.contains(directory) == true)
        #expect(error?.message.contains("postgres user") == true)
    }

    // Not covered: the "no PostgreSQL server found" message. PostgresBinaries also searches
    // /usr/lib/postgresql/*/bin, which a test cannot hide without changing the machine.
}

/// Runs `sql` on the lease's database and returns the first value.
private func query(_ lease: EmbeddedClusterLease, _ sql: String) throws -> String? {
    let connection = try PGConnection(parameters: lease.connectionParameters())
    defer { connection.close() }
    return try connection.query(sql).string(0, 0)
}
