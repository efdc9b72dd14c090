import Foundation
import Glibc

/// The PostgreSQL cluster webhookd runs for itself when no database URL is given (SPEC: the embedded
/// default). It lives under `<data dir>/postgres`, listens on 127.0.0.1 on a free port, and is shared by
/// every webhookd process using the same data directory: each holds a shared `flock` on
/// `<data dir>/cluster.lock`, and the last one to let go stops the server if it can take the lock
/// exclusively.
///
/// When the process runs as root, `initdb`, `pg_ctl` and the server run as the `postgres` user
/// (PostgreSQL refuses to run as root).
package struct EmbeddedCluster: Sendable {
    /// The data directory given by `--data-dir`, made absolute.
    package let dataDirectory: String
    /// Extra `postgres -c` settings (tests turn `fsync` off).
    package var serverSettings: [String: String] = [:]
    /// Extra `initdb` arguments (tests pass `--no-sync`).
    package var initdbArguments: [String] = []

    /// What the embedded server runs with unless `serverSettings` says otherwise. `wal_init_zero=off`: a
    /// new 16 MiB WAL segment is created sparse instead of zero-filled by the committing backend, which
    /// stalled every commit behind it for ~40 ms once per 7,000 deliveries on a young cluster (`make bench`
    /// p99 at c=64 36-47 ms -> 8-9 ms). fdatasync still persists the blocks each commit allocates, so a
    /// 200 stays durable; recycled segments (the steady state) are unaffected.
    package static let defaultSettings = [
        "listen_addresses": "127.0.0.1", "unix_socket_directories": "''", "wal_init_zero": "off",
    ]

    /// The user webhookd connects as, created by initdb as the superuser.
    package static let user = "webhookd"
    /// The database webhookd uses.
    package static let database = "webhookd"

    /// Creates a description of the cluster under `dataDirectory`; nothing is touched until `start`.
    package init(dataDirectory: String) {
        let absolute =
            dataDirectory.hasPrefix("/")
            ? dataDirectory : FileManager.default.currentDirectoryPath + "/" + dataDirectory
        self.dataDirectory = (absolute as NSString).standardizingPath
    }

    var pgdata: String { dataDirectory + "/postgres" }
    var lockPath: String { dataDirectory + "/cluster.lock" }
    /// Held exclusively while one process initialises, starts or stops the server, so two never do it at
    /// once. Separate from `lockPath`, whose shared holders (running commands) may hold it for hours.
    var startLockPath: String { dataDirectory + "/cluster-start.lock" }
    /// A libpq password file (`host:port:db:user:password`) readable only by its owner; it holds the
    /// generated superuser password and lets `psql` connect with `PGPASSFILE`.
    package var passwordFilePath: String { dataDirectory + "/pgpass" }
    var serverLogPath: String { pgdata + "/webhookd-server.log" }

    /// Initialises the cluster if needed, starts it if it is not running, creates the `webhookd`
    /// database, and returns a lease that keeps it alive.
    /// - Throws: `.clusterFailed` with one line naming what is missing or what failed.
    package func start() throws(PostgresError) -> EmbeddedClusterLease {
        let binaries = try PostgresBinaries.locate()
        let runAsPostgres = geteuid() == 0
        do {
            // Only its owner lists it; when PostgreSQL runs as `postgres`, that user may pass through (search).
            let existed = FileManager.default.fileExists(atPath: dataDirectory)
            try FileManager.default.createDirectory(
                atPath: dataDirectory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: runAsPostgres ? 0o711 : 0o700])
            if !existed { chmod(dataDirectory, runAsPostgres ? 0o711 : 0o700) }  // whatever the umask did
        } catch {
            throw PostgresError(.clusterFailed, "cannot create the data directory \(dataDirectory)")
        }
        // Exclusive while we initialise/start, so two commands never start two servers. A separate file
        // from the lease lock: waiting for an exclusive lease lock would wait for every running command
        // (a `clients add` next to a running `serve` would hang until the server exits).
        let startLock = open(startLockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard startLock >= 0 else {
            throw PostgresError(.clusterFailed, "cannot open \(startLockPath): \(String(cString: strerror(errno)))")
        }
        defer { Glibc.close(startLock) }  // Closing releases the flock.
        flock(startLock, LOCK_EX)
        let lockDescriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockDescriptor >= 0 else {
            throw PostgresError(.clusterFailed, "cannot open \(lockPath): \(String(cString: strerror(errno)))")
        }
        // Shared from the start: this is the lease; other webhookd processes may use the server too.
        flock(lockDescriptor, LOCK_SH)
        do {
            let password = try ensureInitialised(binaries: binaries, runAsPostgres: runAsPostgres)
            let port = try ensureRunning(binaries: binaries, runAsPostgres: runAsPostgres)
            let parameters = [
                "host": "127.0.0.1", "port": String(port), "user": Self.user, "password": password,
            ]
            try ensureDatabase(parameters: parameters)
            return EmbeddedClusterLease(
                cluster: self, binaries: binaries, runAsPostgres: runAsPostgres, lockDescriptor: lockDescriptor,
                port: port, password: password)
        } catch {
            Glibc.close(lockDescriptor)
            throw error
        }
    }

    // MARK: - Steps

    private func ensureInitialised(binaries: PostgresBinaries, runAsPostgres: Bool) throws(PostgresError) -> String {
        let manager = FileManager.default
        if manager.fileExists(atPath: pgdata + "/PG_VERSION") {
            guard let password = readPassword() else {
                throw PostgresError(
                    .clusterFailed,
                    "\(passwordFilePath) is missing or unreadable; remove \(dataDirectory) to start afresh")
            }
            return password
        }
        if runAsPostgres {
            // PostgreSQL runs as `postgres`, which must reach the data directory through every parent.
            let probe = Self.run(["/usr/sbin/runuser", "-u", "postgres", "--", "test", "-x", dataDirectory])
            if probe.status != 0 {
                try? FileManager.default.removeItem(atPath: lockPath)
                throw PostgresError(
                    .clusterFailed,
                    "the postgres user cannot reach --data-dir \(dataDirectory) (it needs search permission on it and every parent directory); choose a directory it can reach"
                )
            }
        }
        // SystemRandomNumberGenerator is the kernel's CSPRNG (getrandom) on Linux.
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<24).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let password = bytes.map { String(format: "%02x", $0) }.joined()
        let passwordFile = dataDirectory + "/initdb-password"
        do {
            try? manager.removeItem(atPath: pgdata)
            try manager.createDirectory(
                atPath: pgdata, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try Self.writeSecret(password + "\n", to: passwordFile)
            if runAsPostgres {
                try Self.chownToPostgres(pgdata)
                try Self.chownToPostgres(passwordFile)
            }
        } catch let error as PostgresError {
            throw error
        } catch {
            throw PostgresError(.clusterFailed, "cannot prepare \(pgdata): \(error.localizedDescription)")
        }
        defer { try? manager.removeItem(atPath: passwordFile) }
        let arguments =
            [
                binaries.initdb, "-D", pgdata, "-U", Self.user, "--pwfile=\(passwordFile)", "-A", "scram-sha-256",
                "-E", "UTF8", "--no-locale",
            ] + initdbArguments
        let result = Self.run(arguments, asPostgres: runAsPostgres)
        guard result.status == 0 else {
            throw PostgresError(
                .clusterFailed, "initdb failed for \(pgdata): \(Self.lastLine(result.output))", detail: result.output)
        }
        do {
            try Self.writeSecret("127.0.0.1:*:*:\(Self.user):\(password)\n", to: passwordFilePath)
        } catch {
            throw PostgresError(.clusterFailed, "cannot write \(passwordFilePath)")
        }
        return password
    }

    /// Writes a file only its owner can read, from the moment it exists (created 0600, never widened).
    static func writeSecret(_ text: String, to path: String) throws(PostgresError) {
        unlink(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            throw PostgresError(.clusterFailed, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        fchmod(descriptor, 0o600)  // the umask can only narrow the mode; this makes it exact
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw PostgresError(.clusterFailed, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    private func readPassword() -> String? {
        guard let text = try? String(contentsOfFile: passwordFilePath, encoding: .utf8) else { return nil }
        let fields = text.split(separator: "\n").first?.split(separator: ":", omittingEmptySubsequences: false)
        guard let fields, fields.count == 5 else { return nil }
        return String(fields[4])
    }

    /// The port of the running server, read from `postmaster.pid`, if its process is alive.
    func runningPort() -> Int? {
        guard let text = try? String(contentsOfFile: pgdata + "/postmaster.pid", encoding: .utf8) else {
            return nil
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 4, let pid = Int32(lines[0]), let port = Int(lines[3]) else { return nil }
        guard kill(pid, 0) == 0 || errno == EPERM else { return nil }
        return port
    }

    private func ensureRunning(binaries: PostgresBinaries, runAsPostgres: Bool) throws(PostgresError) -> Int {
        if let port = runningPort(),
            Self.run([binaries.pgCtl, "-D", pgdata, "status"], asPostgres: runAsPostgres).status == 0
        {
            return port
        }
        let port = try Self.freeLoopbackPort()
        var settings = Self.defaultSettings
        settings.merge(serverSettings) { _, new in new }
        let options = (["-p \(port)"] + settings.sorted { $0.key < $1.key }.map { "-c \($0.key)=\($0.value)" })
            .joined(separator: " ")
        let result = Self.run(
            [binaries.pgCtl, "-D", pgdata, "-l", serverLogPath, "-w", "-t", "60", "-o", options, "start"],
            asPostgres: runAsPostgres)
        guard result.status == 0, let running = runningPort() else {
            let log = (try? String(contentsOfFile: serverLogPath, encoding: .utf8)) ?? result.output
            throw PostgresError(
                .clusterFailed, "PostgreSQL in \(pgdata) did not start: \(Self.lastLine(log))", detail: log)
        }
        return running
    }

    private func ensureDatabase(parameters: [String: String]) throws(PostgresError) {
        var admin = parameters
        admin["dbname"] = "postgres"
        let connection = try PGConnection(parameters: admin)
        let found = try connection.query("SELECT 1 FROM pg_database WHERE datname = $1", [.text(Self.database)])
        if found.rowCount == 0 {
            do {
                try connection.query("CREATE DATABASE webhookd")
            } catch  where error.sqlState == "42P04" {
                // Created concurrently by another process: that is what we wanted.
            }
        }
    }

    /// Stops the server (`pg_ctl stop -m fast`): in-flight transactions roll back, data is flushed.
    func stop(binaries: PostgresBinaries, runAsPostgres: Bool) {
        _ = Self.run([binaries.pgCtl, "-D", pgdata, "-m", "fast", "-w", "-t", "30", "stop"], asPostgres: runAsPostgres)
    }

    // MARK: - Processes

    struct ProcessResult {
        var status: Int32
        var output: String
    }

    /// Runs a program to completion with posix_spawn and waitpid, its output captured in a temporary
    /// file. (Foundation's Process waits for the output pipe to close, which never happens when the
    /// program starts a daemon that inherits it, as `pg_ctl start` does.)
    static func run(_ arguments: [String], asPostgres: Bool = false) -> ProcessResult {
        // As postgres, start from / so a working directory it may not read (say /root) does not matter.
        let command =
            asPostgres
            ? ["/usr/sbin/runuser", "-u", "postgres", "--", "/bin/sh", "-c", "cd / && exec \"$@\"", "sh"] + arguments
            : arguments
        guard let template = strdup("/tmp/webhookd-spawn-XXXXXX") else {
            return ProcessResult(status: 127, output: "out of memory")
        }
        defer { free(template) }
        let outputDescriptor = mkstemp(template)
        guard outputDescriptor >= 0 else { return ProcessResult(status: 127, output: "cannot create a temporary file") }
        let outputPath = String(cString: template)
        defer {
            unlink(outputPath)
            Glibc.close(outputDescriptor)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 1)
        posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 2)
        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, nil, &argv, environ)
        guard spawned == 0 else {
            return ProcessResult(status: 127, output: "cannot run \(command[0]): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // WIFEXITED/WEXITSTATUS are macros: exit status in bits 8-15 when the low 7 bits are zero.
        let exited = status & 0x7f == 0
        return ProcessResult(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output: output)
    }

    static func lastLine(_ text: String) -> String {
        text.split(separator: "\n").last.map { String($0) } ?? "no output"
    }

    static func chownToPostgres(_ path: String) throws(PostgresError) {
        guard let entry = getpwnam("postgres") else {
            throw PostgresError(
                .clusterFailed,
                "running as root needs a 'postgres' user to run PostgreSQL; install the postgresql package")
        }
        guard chown(path, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
            throw PostgresError(.clusterFailed, "cannot give \(path) to the postgres user")
        }
    }

    /// Asks the kernel for a free port on 127.0.0.1 (bind to port 0, read it back, close).
    static func freeLoopbackPort() throws(PostgresError) -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw PostgresError(.clusterFailed, "cannot open a socket to find a free port") }
        defer { Glibc.close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length) == 0 && getsockname(descriptor, generic, &length) == 0
            }
        }
        guard bound else { throw PostgresError(.clusterFailed, "cannot bind 127.0.0.1 to find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Keeps the embedded cluster running while held. `release()` stops the server if this process started
/// or found it and no other webhookd process holds it any more.
package final class EmbeddedClusterLease: @unchecked Sendable {
    // Sendable because every field is immutable except `released`, which is only touched by `release()`
    // under `lock`.
    private let cluster: EmbeddedCluster
    private let binaries: PostgresBinaries
    private let runAsPostgres: Bool
    private let lockDescriptor: Int32
    private let lock = NSLock()
    private var released = false

    /// The loopback port the server listens on.
    package let port: Int
    private let password: String

    init(
        cluster: EmbeddedCluster, binaries: PostgresBinaries, runAsPostgres: Bool, lockDescriptor: Int32, port: Int,
        password: String
    ) {
        self.cluster = cluster
        self.binaries = binaries
        self.runAsPostgres = runAsPostgres
        self.lockDescriptor = lockDescriptor
        self.port = port
        self.password = password
    }

    deinit {
        release()
    }

    /// libpq keyword/value parameters for `database`.
    package func connectionParameters(database: String = EmbeddedCluster.database) -> [String: String] {
        [
            "host": "127.0.0.1", "port": String(port), "user": EmbeddedCluster.user, "password": password,
            "dbname": database,
        ]
    }

    /// A URL for people (no password): `postgresql://webhookd@127.0.0.1:PORT/webhookd`.
    package var displayURL: String {
        "postgresql://\(EmbeddedCluster.user)@127.0.0.1:\(port)/\(EmbeddedCluster.database)"
    }

    /// A `psql` command line that connects to the embedded database.
    package var psqlCommand: String {
        "PGPASSFILE=\(cluster.passwordFilePath) psql -h 127.0.0.1 -p \(port) -U \(EmbeddedCluster.user) \(EmbeddedCluster.database)"
    }

    /// Lets go of the cluster; stops it when no other webhookd process holds it.
    package func release() {
        lock.lock()
        defer { lock.unlock() }
        guard !released else { return }
        released = true
        // Under the start lock, so a process that is starting (and has found the server running) cannot
        // see it stopped under it.
        let startLock = open(cluster.startLockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if startLock >= 0 { flock(startLock, LOCK_EX) }
        if flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0 {
            cluster.stop(binaries: binaries, runAsPostgres: runAsPostgres)
        }
        Glibc.close(lockDescriptor)
        if startLock >= 0 { Glibc.close(startLock) }
    }
}

/// Where `initdb` and `pg_ctl` are: on PATH, else the newest `/usr/lib/postgresql/*/bin`.
struct PostgresBinaries: Sendable {
    var initdb: String
    var pgCtl: String

    static func locate() throws(PostgresError) -> PostgresBinaries {
        let manager = FileManager.default
        var directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        let versions = ((try? manager.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted(by: >)
        directories += versions.map { "/usr/lib/postgresql/\($0)/bin" }
        for directory in directories {
            let initdb = directory + "/initdb"
            let pgCtl = directory + "/pg_ctl"
            if manager.isExecutableFile(atPath: initdb) && manager.isExecutableFile(atPath: pgCtl) {
                return PostgresBinaries(initdb: initdb, pgCtl: pgCtl)
            }
        }
        throw PostgresError(
            .clusterFailed,
            "no PostgreSQL server found (initdb and pg_ctl are neither on PATH nor in /usr/lib/postgresql/*/bin); install it with: apt-get install postgresql, or pass --database-url"
        )
    }
}
