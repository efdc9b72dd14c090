import ArgumentParser
import Foundation
import Operations
import Postgres
import Receiver

struct ClientsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clients",
        abstract: "Manage the clients allowed to deliver (changes reach a running server within 1 s).",
        subcommands: [
            Add.self, List.self, Show.self, Disable.self, Enable.self, Remove.self, Grant.self, RevokeEndpoint.self,
            Limit.self, History.self, Signature.self,
        ]
    )

    /// The session's application name, which the audit trail records as the actor next to the database
    /// user: `webhookd clients <subcommand> (<OS user>)`.
    static func applicationName(subcommand: String) -> String {
        // The account name from the password database (not $USER, which anyone can set), else the uid.
        let user = getpwuid(getuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "uid \(getuid())"
        // PostgreSQL keeps printable ASCII of application_name only and at most 63 bytes.
        let text = "webhookd clients \(subcommand) (\(user))"
        return String(
            String.UnicodeScalarView(text.unicodeScalars.filter { (0x20...0x7e).contains($0.value) }).prefix(63))
    }

    /// The subcommand being run (`add`, `grant`, …), from the command line.
    private static var subcommandName: String {
        let arguments = CommandLine.arguments.dropFirst().drop { $0 != "clients" }.dropFirst()
        return arguments.first { !$0.hasPrefix("-") } ?? "?"
    }

    @discardableResult
    /// Runs `body` with a registry on the configured database; registry errors exit 1 with their line.
    static func withRegistry<T>(_ options: DatabaseOptions, _ body: (ClientRegistry) throws -> T) throws -> T {
        try options.withConnection(applicationName: applicationName(subcommand: subcommandName)) { connection in
            do {
                return try body(ClientRegistry(connection: connection))
            } catch let error as RegistryError {
                throw error.code == .database && error.underlying?.isConnectionProblem == true
                    ? CommandFailure.usage(error.message) : CommandFailure.failure(error.message)
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a client (its certificate CN).")
        @Argument(help: "Client id: the CN of the client's certificate") var id: String
        @Option(name: .customLong("endpoint"), help: "Endpoint name to grant (repeatable); '*' grants every endpoint")
        var endpoints: [String] = []
        @Option(help: "Free text for operators") var description: String = ""
        @Option(name: .customLong("pin-sha256"), help: "Allowed leaf certificate SHA-256 (repeatable)") var pins:
            [String] = []
        @Option(name: .customLong("issuer-sha256"), help: "Allowed issuing CA certificate SHA-256 (repeatable)")
        var issuers: [String] = []
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                let record = try ClientsCommand.withRegistry(database) {
                    try $0.add(
                        clientID: id, endpoints: endpoints, description: description, pins: pins, issuers: issuers)
                }
                let granted =
                    record.endpoints.isEmpty
                    ? "no endpoints yet" : "endpoints " + record.endpoints.joined(separator: ",")
                print("added client \(record.clientID) (\(granted))")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered clients.")
        @Flag(help: "Print JSON") var json = false
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                let records = try ClientsCommand.withRegistry(database) { try $0.list() }
                if json {
                    print(ClientRecord.json(records))
                } else if records.isEmpty {
                    print("no clients registered; add one with: webhookd clients add ID --endpoint NAME")
                } else {
                    print(ClientRecord.table(records))
                }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one client.")
        @Argument var id: String
        @Flag(help: "Print JSON") var json = false
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                let record = try ClientsCommand.withRegistry(database) { try $0.show(id) }
                print(json ? record.jsonObject.pretty : record.detailLines.joined(separator: "\n"))
            }
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Refuse a client (403) without removing it.")
        @Argument var id: String
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                try ClientsCommand.withRegistry(database) { try $0.setEnabled(id, false) }
                print("disabled client \(id)")
            }
        }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Allow a disabled client again.")
        @Argument var id: String
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                try ClientsCommand.withRegistry(database) { try $0.setEnabled(id, true) }
                print("enabled client \(id)")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a client (its deliveries stay).")
        @Argument var id: String
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                try ClientsCommand.withRegistry(database) { try $0.remove(id) }
                print("removed client \(id)")
            }
        }
    }

    struct Grant: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant a client an endpoint ('*' = every endpoint).")
        @Argument var id: String
        @Argument var endpoint: String
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                let record = try ClientsCommand.withRegistry(database) { try $0.grant(id, endpoint: endpoint) }
                print("client \(id) endpoints: \(record.endpoints.joined(separator: ","))")
            }
        }
    }

    struct RevokeEndpoint: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-endpoint", abstract: "Take an endpoint grant away from a client.")
        @Argument var id: String
        @Argument var endpoint: String
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                let record = try ClientsCommand.withRegistry(database) { try $0.revokeEndpoint(id, endpoint: endpoint) }
                let left = record.endpoints.isEmpty ? "(none)" : record.endpoints.joined(separator: ",")
                print("client \(id) endpoints: \(left)")
            }
        }
    }

    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every change to a client's row, newest first (the clients_audit trail).")
        @Argument(help: "Client id") var id: String
        @Flag(help: "Print JSON") var json = false
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                let entries = try ClientsCommand.withRegistry(database) { try $0.history(id) }
                print(json ? AuditEntry.json(entries) : AuditEntry.lines(entries).joined(separator: "\n"))
            }
        }
    }

    struct Limit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a client's limits: open connections, and a request rate with its burst (429 past them).")
        @Argument(help: "Client id") var id: String
        @Option(help: "Connections open at once, or 'none' for the server's --client-max-connections")
        var connections: String?
        @Option(help: "Requests per second, or 'none' for unlimited") var rate: String?
        @Option(help: "Requests allowed at once above the rate [the rate, at least 1]") var burst: Int?
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                guard connections != nil || rate != nil || burst != nil else {
                    throw CommandFailure.usage("give at least one of --connections, --rate, --burst")
                }
                var limits = ClientRegistry.Limits()
                if let connections {
                    limits.maxConnections = .some(try Self.value(connections, flag: "connections", as: Int.init))
                }
                if let rate { limits.ratePerSecond = .some(try Self.value(rate, flag: "rate", as: Double.init)) }
                if let burst { limits.burst = .some(burst) }
                let record = try ClientsCommand.withRegistry(database) { try $0.setLimits(id, limits) }
                let shown = ["max_connections:", "rate_per_second:", "burst:"]
                print(
                    record.detailLines.filter { line in shown.contains { line.hasPrefix($0) } }.joined(separator: "\n"))
            }
        }

        /// A number, or nil for `none`; anything else exits 64 naming the flag.
        static func value<T>(_ text: String, flag: String, as parse: (String) -> T?) throws -> T? {
            if text == "none" { return nil }
            guard let value = parse(text) else {
                throw CommandFailure.usage("--\(flag) must be a positive number or 'none', not '\(text)'")
            }
            return value
        }
    }

    struct Signature: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Require (or accept) payload signatures from a client on top of mTLS, or turn them off.")
        @Argument(help: "Client id") var id: String
        @Option(help: "standard-webhooks, github or stripe") var scheme: String?
        @Option(
            name: .customLong("secret-file"),
            help:
                "File with a secret (repeatable, any one may match): whsec_<base64> for standard-webhooks, the secret as given otherwise"
        )
        var secretFiles: [String] = []
        @Flag(help: "Refuse (403) a request without a valid signature (the default)") var required = false
        @Flag(help: "Store every request and record the signature's status") var optional = false
        @Flag(help: "No signature check; deletes the secrets") var off = false
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try reportingFailures {
                if required && optional { throw CommandFailure.usage("--required and --optional exclude each other") }
                let record: ClientRecord
                if off {
                    guard scheme == nil, secretFiles.isEmpty, !required, !optional else {
                        throw CommandFailure.usage("--off takes no --scheme, --secret-file, --required or --optional")
                    }
                    record = try ClientsCommand.withRegistry(database) {
                        try $0.setSignature(id, scheme: nil, mode: .required, secrets: [])
                    }
                } else {
                    guard let scheme else { throw CommandFailure.usage("give --scheme (or --off)") }
                    guard let parsed = SignatureScheme(rawValue: scheme) else {
                        throw CommandFailure.usage(
                            "--scheme must be standard-webhooks, github or stripe, not '\(scheme)'")
                    }
                    guard !secretFiles.isEmpty else { throw CommandFailure.usage("give at least one --secret-file") }
                    var secrets: [[UInt8]] = []
                    for path in secretFiles {
                        guard let contents = FileManager.default.contents(atPath: path) else {
                            throw CommandFailure.usage("--secret-file \(path) cannot be read")
                        }
                        do {
                            secrets.append(try SignatureSecretFile.key(Array(contents), path: path, scheme: parsed))
                        } catch let error as RegistryError {
                            throw CommandFailure.usage(error.message)
                        }
                    }
                    record = try ClientsCommand.withRegistry(database) {
                        try $0.setSignature(
                            id, scheme: parsed, mode: optional ? .optional : .required, secrets: secrets)
                    }
                }
                print(record.detailLines.filter { $0.hasPrefix("signature:") }.joined(separator: "\n"))
            }
        }
    }
}
