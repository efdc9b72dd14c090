internal import CLinux
import Foundation
import Glibc
import Synchronization

/// What a finished `webhookd` command left behind.
package struct CommandResult: Sendable {
    /// The exit status, or 128 + the signal number when a signal ended it (as shells report it).
    package var status: Int32
    /// Everything written to standard output.
    package var stdout: String
    /// Everything written to standard error.
    package var stderr: String

    /// `stdout` as `key: value` pairs (first occurrence of each key wins).
    package var fields: [String: String] {
        var result: [String: String] = [:]
        for line in stdout.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if result[key] == nil { result[key] = value }
        }
        return result
    }
}

/// Why a subprocess could not be run or did not do what the test waited for; the description carries
/// what it printed so far.
package struct TestSupportProcessFailure: Error, CustomStringConvertible {
    /// One paragraph for the test log.
    package let description: String
}

/// Runs the built `webhookd` binary as a subprocess, the way a user or a script would.
///
/// Output goes to files, never pipes: a grandchild daemon (`pg_ctl start` forks the PostgreSQL server)
/// inherits the child's standard output, and a reader waiting for a pipe's end would wait for the
/// server's exit.
package enum TestSupportProcess {
    /// The `webhookd` executable: `WEBHOOKD_BINARY` when set, else the one next to the test bundle
    /// (`swift build` puts both in `.build/<triple>/debug`).
    /// - Throws: when no executable is there.
    package static func webhookdBinary() throws -> String {
        if let given = ProcessInfo.processInfo.environment["WEBHOOKD_BINARY"], !given.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: given) else {
                throw TestSupportProcessFailure(description: "WEBHOOKD_BINARY=\(given) is not an executable file")
            }
            return given
        }
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let candidate = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("webhookd")
            .path
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw TestSupportProcessFailure(
                description: "no webhookd binary at \(candidate); run 'swift build' first or set WEBHOOKD_BINARY")
        }
        return candidate
    }

    /// Runs any program (openssl, curl) to completion in `directory`, with the environment rules of
    /// `runWebhookd`.
    /// - Throws: when it cannot be started or does not finish in time.
    package static func run(
        _ executable: String, _ arguments: [String], in directory: String? = nil, timeout: Duration = .seconds(60)
    ) throws -> CommandResult {
        try finish(WebhookdProcess(executable: executable, arguments, directory: directory), timeout: timeout)
    }

    /// Runs `webhookd arguments…` to completion.
    ///
    /// The child gets this process's environment without `DATABASE_URL` and `WEBHOOKD_*` (so the
    /// developer's own settings never leak into a test), plus `environment`.
    /// - Parameters:
    ///   - arguments: the arguments after the program name.
    ///   - environment: variables to set for the child.
    ///   - timeout: how long it may run; then it is killed and the call throws.
    /// - Throws: when it cannot be started or does not finish in time.
    /// > Warning: blocks the calling thread until the child exits.
    package static func runWebhookd(
        _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)
    ) throws -> CommandResult {
        try finish(WebhookdProcess(arguments, environment: environment), timeout: timeout)
    }

    /// Waits for a started child, killing it after `timeout`.
    private static func finish(_ process: WebhookdProcess, timeout: Duration) throws -> CommandResult {
        let arguments = process.arguments
        guard let status = process.waitForExit(timeout: timeout) else {
            process.kill()
            _ = process.waitForExit(timeout: .seconds(10))  // Only to reap it; the timeout is what we report.
            throw TestSupportProcessFailure(
                description: """
                    webhookd \(arguments.joined(separator: " ")) did not finish within \(timeout)
                    stdout: \(process.output)
                    stderr: \(process.errorOutput)
                    """)
        }
        return CommandResult(status: status, stdout: process.output, stderr: process.errorOutput)
    }

    /// The child's environment: ours without the variables webhookd reads, then `overrides`.
    static func childEnvironment(_ overrides: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { name, _ in
            name != "DATABASE_URL" && !name.hasPrefix("WEBHOOKD_")
        }
        environment.merge(overrides) { _, new in new }
        return environment
    }

    /// A new empty file under /tmp for captured output, opened close-on-exec so that children spawned
    /// by other tests at the same time never inherit it.
    static func makeCaptureFile(_ label: String) throws -> (descriptor: Int32, path: String) {
        let path = "/tmp/webhookd-\(label)-\(getpid())-\(TestDatabase.randomHex(byteCount: 8))"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw TestSupportProcessFailure(
                description: "cannot create the capture file \(path): \(String(cString: strerror(errno)))")
        }
        return (descriptor, path)
    }

    /// Starts `executable` with posix_spawn: standard input from /dev/null, output and error into the
    /// given descriptors, default signal handling and an empty signal mask.
    static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String], directory: String? = nil,
        stdout: Int32, stderr: Int32
    ) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let directory { CLinux_spawn_addchdir(&actions, directory) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)

        // The test process may ignore SIGPIPE or block signals in this thread; the child starts clean.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaulted = sigset_t()
        sigemptyset(&defaulted)
        for signalNumber in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaulted, signalNumber) }
        posix_spawnattr_setsigdefault(&attributes, &defaulted)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var envp: [UnsafeMutablePointer<CChar>?] =
            environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        var spawned = posix_spawn(&pid, executable, &actions, &attributes, &argv, &envp)
        // A binary copied just before (FirstRunTests) can be held open for writing by a child that another
        // test thread forked meanwhile, until that child execs: ETXTBSY is transient, so wait it out briefly.
        for _ in 0..<100 where spawned == ETXTBSY {
            usleep(20_000)
            spawned = posix_spawn(&pid, executable, &actions, &attributes, &argv, &envp)
        }
        guard spawned == 0 else {
            throw TestSupportProcessFailure(
                description: "cannot run \(executable): \(String(cString: strerror(spawned)))")
        }
        return pid
    }

    /// Reads a capture file (empty when it cannot be read).
    static func read(_ path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

/// A running `webhookd` (typically `serve`) with its output captured to files. The process is ended
/// (SIGTERM, then SIGKILL if it lingers) when this object goes away while it still runs.
///
/// Sendable because its state is immutable except the exit status, which sits in a `Mutex`.
package final class WebhookdProcess: Sendable {
    /// The child's process id.
    package let pid: Int32
    /// The arguments it was started with (for messages).
    package let arguments: [String]
    /// The program and its arguments, for messages.
    private let commandLine: String
    private let outputPath: String
    private let errorPath: String
    /// The exit status once reaped (so the pid is never waited for twice).
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `webhookd arguments…`; the environment is built as for `TestSupportProcess.runWebhookd`.
    /// - Throws: when the binary is missing or cannot be started.
    package convenience init(_ arguments: [String], environment: [String: String] = [:]) throws {
        try self.init(executable: TestSupportProcess.webhookdBinary(), arguments, environment: environment)
    }

    /// Starts another program (curl, openssl, a shell) the same way, with the same environment rules.
    /// - Throws: when it cannot be started.
    package init(
        executable binary: String, _ arguments: [String], environment: [String: String] = [:],
        directory: String? = nil
    ) throws {
        let output = try TestSupportProcess.makeCaptureFile("stdout")
        defer { close(output.descriptor) }
        let error: (descriptor: Int32, path: String)
        do {
            error = try TestSupportProcess.makeCaptureFile("stderr")
        } catch {
            unlink(output.path)
            throw error
        }
        defer { close(error.descriptor) }
        do {
            pid = try TestSupportProcess.spawn(
                binary, arguments, environment: TestSupportProcess.childEnvironment(environment),
                directory: directory, stdout: output.descriptor, stderr: error.descriptor)
        } catch let failure {
            unlink(output.path)
            unlink(error.path)
            throw failure
        }
        self.arguments = arguments
        self.commandLine = ([binary] + arguments).joined(separator: " ")
        self.outputPath = output.path
        self.errorPath = error.path
    }

    deinit {
        if waitForExit(timeout: .zero) == nil {
            signal(SIGTERM)
            if waitForExit(timeout: .seconds(15)) == nil {
                kill()
                _ = waitForExit(timeout: .seconds(10))  // Only reaping; there is nobody left to report to.
            }
        }
        unlink(outputPath)
        unlink(errorPath)
    }

    /// Everything the process wrote to standard output so far.
    package var output: String { TestSupportProcess.read(outputPath) }

    /// Everything the process wrote to standard error so far.
    package var errorOutput: String { TestSupportProcess.read(errorPath) }

    /// Sends `signalNumber` (SIGHUP, SIGTERM, …) to the process; nothing once it has been reaped.
    package func signal(_ signalNumber: Int32) {
        exitStatus.withLock { status in
            // Checked under the lock so a reaped (and possibly reused) pid is never signalled.
            if status == nil { _ = Glibc.kill(pid, signalNumber) }
        }
    }

    /// Sends SIGKILL.
    package func kill() {
        signal(SIGKILL)
    }

    /// Waits up to `timeout` for the process to exit.
    /// - Returns: its exit status (128 + signal number when a signal ended it), or nil if it still runs.
    package func waitForExit(timeout: Duration) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = reap() { return status }
            if ContinuousClock.now >= deadline { return nil }
            // A short nap between non-blocking checks, bounded by the deadline.
            usleep(5_000)
        }
    }

    /// Waits until a line of standard output or standard error contains `text`.
    /// - Returns: the first such line.
    /// - Throws: when the process exits, or `timeout` passes, before such a line appears; the message
    ///   carries both outputs.
    package func waitForLine(containing text: String, timeout: Duration = .seconds(30)) throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            // Read the status first: output written before the exit is then already in the files.
            let exited = reap()
            for line in (output + "\n" + errorOutput).split(separator: "\n") where line.contains(text) {
                return String(line)
            }
            if let exited {
                throw TestSupportProcessFailure(
                    description: "\(commandLine) exited with \(exited) before printing "
                        + "'\(text)'\nstdout: \(output)\nstderr: \(errorOutput)")
            }
            if ContinuousClock.now >= deadline {
                throw TestSupportProcessFailure(
                    description: "\(commandLine) printed no line with '\(text)' within "
                        + "\(timeout)\nstdout: \(output)\nstderr: \(errorOutput)")
            }
            usleep(20_000)
        }
    }

    /// The exit status if the process has exited (reaping it once), else nil.
    private func reap() -> Int32? {
        exitStatus.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            var result: pid_t
            repeat {
                result = waitpid(pid, &raw, WNOHANG)
            } while result < 0 && errno == EINTR
            guard result == pid else { return nil }
            // WIFEXITED/WEXITSTATUS are macros: the exit status is in bits 8–15 when the low 7 bits are 0;
            // otherwise the low 7 bits are the terminating signal.
            let decoded = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
            status = decoded
            return decoded
        }
    }
}
