import ArgumentParser
import Foundation
import Posix
import Receiver

/// SPEC: every flag that takes a value also reads `WEBHOOKD_<FLAG>`; the database URL reads
/// `DATABASE_URL`. A flag given on the command line wins over its variable.
enum Environment {
    /// The variable that backs `--flag`.
    static func variableName(forFlag flag: String) -> String {
        flag == "database-url"
            ? "DATABASE_URL" : "WEBHOOKD_" + flag.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// The flag's value, else its variable's, else nil.
    static func value(_ given: String?, flag: String) -> String? {
        if let given { return given }
        let value = ProcessInfo.processInfo.environment[variableName(forFlag: flag)]
        return value?.isEmpty == false ? value : nil
    }

    /// A repeatable flag's values, else its variable's comma-separated values.
    static func values(_ given: [String], flag: String) -> [String] {
        if !given.isEmpty { return given }
        guard let value = ProcessInfo.processInfo.environment[variableName(forFlag: flag)], !value.isEmpty else {
            return []
        }
        return value.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    }

    /// An integer flag's value, else its variable's, else `defaultValue`.
    /// - Throws: exit 64 with a line naming the variable when it is not an integer.
    static func integer(_ given: Int?, flag: String, default defaultValue: Int) throws -> Int {
        if let given { return given }
        let name = variableName(forFlag: flag)
        guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else { return defaultValue }
        guard let number = Int(text) else { throw CommandFailure.usage("\(name)=\(text) is not an integer") }
        return number
    }
}

/// A failure a command reports as one line on stderr, with SPEC's exit code: 64 for bad usage or
/// configuration, 1 for anything else.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32

    static func usage(_ message: String) -> CommandFailure { CommandFailure(message: message, exitCode: 64) }
    static func failure(_ message: String) -> CommandFailure { CommandFailure(message: message, exitCode: 1) }

    var description: String { message }
}

extension CommandFailure {
    /// Prints the line; ArgumentParser then exits with `exitCode`.
    func report() -> ExitCode {
        FileHandle.standardError.write(Data(("webhookd: " + message + "\n").utf8))
        return ExitCode(exitCode)
    }
}

/// Runs a command body, turning a `CommandFailure` into its line and exit code (any other error: its
/// description and exit 1), exiting through ArgumentParser's `ExitCode`.
@discardableResult
func reportingFailures<T>(_ body: () throws -> T) throws(ExitCode) -> T {
    do {
        return try body()
    } catch let failure as CommandFailure {
        throw failure.report()
    } catch let code as ExitCode {
        throw code
    } catch {
        throw CommandFailure.failure(String(describing: error)).report()
    }
}

/// Blocks SIGTERM/SIGINT/SIGHUP for every thread started from here on and returns the waiter that
/// receives them (STYLE.md §32). Call it before starting threads that must not take the signals.
func terminationSignals() throws -> SignalWaiter {
    SignalWaiter.blockTerminationAndReloadSignals()
    do {
        return try SignalWaiter()
    } catch {
        throw CommandFailure.failure("cannot wait for signals: \(error)")
    }
}
