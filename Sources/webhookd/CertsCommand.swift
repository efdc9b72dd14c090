import ArgumentParser
import Foundation
import Operations
import Postgres
import Receiver
import TLS

/// `webhookd certs …`: the dev CA, client certificates, partners' CSRs, inspection, revocation and an offline
/// run of the server's verification. Wiring only: every decision lives in the TLS module.
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Create and check certificates: dev CA, client certificates, CSRs, CRL, offline verification.",
        subcommands: [Init.self, Issue.self, SignCSR.self, Inspect.self, Revoke.self, CRL.self, Explain.self]
    )

    /// Runs `body`, reporting a `TLSError` as one line with exit 64 (bad input) or 1 (refused or failed).
    @discardableResult
    static func reporting<T>(_ body: () throws -> T) throws(ExitCode) -> T {
        try reportingFailures {
            do {
                return try body()
            } catch let error as TLSError {
                throw error.isUsageProblem ? CommandFailure.usage(error.message) : CommandFailure.failure(error.message)
            }
        }
    }

    /// The `--dir` value, else `WEBHOOKD_DIR`, else `certs`.
    static func directory(_ given: String?) -> CertsDirectory {
        CertsDirectory(Environment.value(given, flag: "dir") ?? "certs")
    }

    /// `--key-type`.
    enum KeyTypeOption: String, ExpressibleByArgument, CaseIterable {
        case ecdsaP256 = "ecdsa-p256"
        case rsa2048 = "rsa-2048"

        var keyType: KeyType {
            switch self {
            case .ecdsaP256: .ecdsaP256
            case .rsa2048: .rsa(bits: 2048)
            }
        }

        /// The flag's value, else `WEBHOOKD_KEY_TYPE`, else ECDSA P-256.
        static func resolve(_ given: KeyTypeOption?) throws -> KeyType {
            if let given { return given.keyType }
            guard let text = Environment.value(nil, flag: "key-type") else { return .ecdsaP256 }
            guard let option = KeyTypeOption(rawValue: text) else {
                throw CommandFailure.usage("WEBHOOKD_KEY_TYPE=\(text) is not ecdsa-p256 or rsa-2048")
            }
            return option.keyType
        }
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a dev CA and a server certificate (ca.crt, ca.key, server.crt, server.key).")
        @Option(help: "Directory for the files (env WEBHOOKD_DIR) [certs]") var dir: String?
        @Option(name: .customLong("key-type"), help: "ecdsa-p256 or rsa-2048 [ecdsa-p256]") var keyType: KeyTypeOption?
        @Option(name: .customLong("san"), help: "Extra server name or IP besides localhost and 127.0.0.1 (repeatable)")
        var subjectAltNames: [String] = []
        @Option(help: "Server certificate validity in days [825]") var days: Int?
        @Flag(help: "Replace existing files") var force = false

        func run() throws {
            try CertsCommand.reporting {
                let directory = CertsCommand.directory(dir)
                let result = try DevPKI.initialize(
                    directory: directory, keyType: try KeyTypeOption.resolve(keyType),
                    extraSubjectAltNames: Environment.values(subjectAltNames, flag: "san"),
                    serverDays: try Environment.integer(days, flag: "days", default: 825), force: force)
                print("CA certificate:     \(directory.caCertificate)  (\(result.ca.subject))")
                print("CA key:             \(directory.caKey)  (mode 0600)")
                print(
                    "server certificate: \(directory.serverCertificate)  (\(result.serverSubjectAltNames.joined(separator: ", ")))"
                )
                print("server key:         \(directory.serverKey)  (mode 0600)")
                print("next: webhookd certs issue CLIENT_ID --dir \(directory.path)")
                print(
                    "then: webhookd serve --cert \(directory.serverCertificate) --key \(directory.serverKey)"
                        + " --client-ca \(directory.caCertificate)")
            }
        }
    }

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a client key and certificate (CN=ID, clientAuth) signed by the dev CA.")
        @Argument(help: "Client id: the certificate's CN") var id: String
        @Option(help: "Directory of the dev CA (env WEBHOOKD_DIR) [certs]") var dir: String?
        @Option(help: "Validity in days [365]") var days: Int?
        @Option(name: .customLong("key-type"), help: "ecdsa-p256 or rsa-2048 [ecdsa-p256]") var keyType: KeyTypeOption?
        @Flag(help: "Replace this client's existing files") var force = false

        func run() throws {
            try CertsCommand.reporting {
                let authority = try DevCertificateAuthority(directory: CertsCommand.directory(dir))
                let issued = try authority.issueClient(
                    id, days: try Environment.integer(days, flag: "days", default: 365),
                    keyType: try KeyTypeOption.resolve(keyType), force: force)
                print("certificate: \(issued.certificatePath)")
                print("key:         \(issued.keyPath ?? "")  (mode 0600)")
                print("bundle:      \(issued.bundlePath ?? "")  (certificate then key, mode 0600)")
                CertsCommand.printIssued(issued)
            }
        }
    }

    struct SignCSR: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-csr",
            abstract: "Check a partner's CSR and sign it: CN only, clientAuth only, CA:false.",
            discussion: "Partners make one with: openssl req -new -sha256 -newkey rsa:2048 -nodes -subj '/CN=CLIENT_ID'"
        )
        @Argument(help: "The CSR, PEM or DER") var file: String
        @Option(help: "Directory of the dev CA (env WEBHOOKD_DIR) [certs]") var dir: String?
        @Option(help: "Validity in days [365]") var days: Int?
        @Option(help: "Where to write the certificate [DIR/clients/<CN>.crt]") var out: String?
        @Flag(help: "Replace an existing certificate file") var force = false

        func run() throws {
            try CertsCommand.reporting {
                let authority = try DevCertificateAuthority(directory: CertsCommand.directory(dir))
                let issued = try authority.signRequest(
                    file: file, days: try Environment.integer(days, flag: "days", default: 365),
                    outputPath: Environment.value(out, flag: "out"), force: force)
                print("certificate: \(issued.certificatePath)")
                CertsCommand.printIssued(issued)
            }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a certificate file (PEM, DER or PKCS#12): names, serial, validity, fingerprint, key.",
            discussion: "Exits 1 when --key does not match or the certificate is expired, 64 when unreadable.")
        @Argument(help: "Certificate file: PEM (one or more), DER or PKCS#12") var file: String
        @Option(help: "Private key (PEM) to check against the certificate") var key: String?
        @Option(name: .customLong("passphrase-file"), help: "Passphrase for a PKCS#12 file or an encrypted key")
        var passphraseFile: String?
        @Flag(help: "Print JSON") var json = false

        func run() throws {
            try CertsCommand.reporting {
                let inspection = try CertificateInspection.inspect(
                    path: file, keyPath: Environment.value(key, flag: "key"),
                    passphrasePath: Environment.value(passphraseFile, flag: "passphrase-file"))
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(inspection), as: UTF8.self))
                } else {
                    print(inspection.lines.joined(separator: "\n"))
                }
                if let failure = inspection.failureMessage { throw CommandFailure.failure(failure) }
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a certificate of the dev CA to its CRL (DIR/ca.crl, PEM) and re-sign the CRL.")
        @Argument(help: "The certificate to revoke (PEM or DER)") var file: String
        @Option(help: "Directory of the dev CA (env WEBHOOKD_DIR) [certs]") var dir: String?
        @Option(help: "Days until the CRL's next update [30]") var days: Int?

        func run() throws {
            try CertsCommand.reporting {
                let authority = try DevCertificateAuthority(directory: CertsCommand.directory(dir))
                let update = try authority.revoke(
                    certificateFile: file, days: try Environment.integer(days, flag: "days", default: 30))
                print(update.lines.joined(separator: "\n"))
            }
        }
    }

    struct CRL: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "crl", abstract: "Re-sign the dev CA's CRL with fresh dates, adding nothing.")
        @Option(help: "Directory of the dev CA (env WEBHOOKD_DIR) [certs]") var dir: String?
        @Option(help: "Days until the CRL's next update [30]") var days: Int?

        func run() throws {
            try CertsCommand.reporting {
                let authority = try DevCertificateAuthority(directory: CertsCommand.directory(dir))
                let update = try authority.refreshCRL(days: try Environment.integer(days, flag: "days", default: 30))
                print(update.lines.joined(separator: "\n"))
            }
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the server's verification and authorization on a certificate, offline, step by step.",
            discussion: """
                Prints one 'step: pass|fail (reason)' line per step (parse, chain, identity, then registered, \
                enabled, endpoint, pin, issuer from the clients table) and a result line. Exits 0 when no step \
                fails, 1 when one does, 64 when the trust flags would stop the server.
                """)
        @Argument(help: "Client certificate: PEM (leaf first, then any intermediates), DER or PKCS#12") var file: String
        @Option(name: .customLong("client-ca"), help: "Trusted CA bundle (env WEBHOOKD_CLIENT_CA) [certs/ca.crt]")
        var clientCA: String?
        @Option(
            name: .customLong("crl"), help: "CRL file (repeatable; env WEBHOOKD_CRL) [certs/ca.crl with the default CA]"
        )
        var crls: [String] = []
        @Option(name: .customLong("verify-depth"), help: "Most intermediates allowed [4]") var verifyDepth: Int?
        @Option(help: "Endpoint to check the grant for") var endpoint: String?
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let accepted = try CertsCommand.reporting {
                let defaults = CertsDirectory("certs")
                var crlPaths = Environment.values(crls, flag: "crl")
                let caPath: String
                if let given = Environment.value(clientCA, flag: "client-ca") {
                    caPath = given
                } else if FileManager.default.fileExists(atPath: defaults.caCertificate) {
                    caPath = defaults.caCertificate
                    // The dev CA's CRL goes with the dev CA only: another CA's file would not load.
                    if crlPaths.isEmpty && FileManager.default.fileExists(atPath: defaults.caCRL) {
                        crlPaths = [defaults.caCRL]
                    }
                } else {
                    throw CommandFailure.usage("--client-ca is required (\(defaults.caCertificate) does not exist)")
                }
                var explanation = try CertificateExplanation.verify(
                    path: file, clientCAPath: caPath, crlPaths: crlPaths,
                    verifyDepth: try Environment.integer(verifyDepth, flag: "verify-depth", default: 4))
                for warning in explanation.warnings {
                    FileHandle.standardError.write(Data("webhookd: warning: \(warning)\n".utf8))
                }
                let noURL = Environment.value(database.databaseURL, flag: "database-url") == nil
                let dataDirectory = Environment.value(database.dataDirectory, flag: "data-dir") ?? ".webhookd"
                if explanation.clientID != nil, noURL, !FileManager.default.fileExists(atPath: dataDirectory) {
                    // Never create an embedded cluster just to explain a certificate.
                    explanation.skipRegistry(
                        "no database: no --database-url and no embedded cluster in \(dataDirectory)")
                } else if let clientID = explanation.clientID {
                    do {
                        let grant = try database.withConnection { connection in
                            try CertsCommand.grant(clientID, registry: ClientRegistry(connection: connection))
                        }
                        explanation.authorize(grant: grant, endpoint: Environment.value(endpoint, flag: "endpoint"))
                    } catch let failure as CommandFailure {
                        explanation.skipRegistry("no database: \(failure.message)")
                    }
                }
                print(explanation.lines.joined(separator: "\n"))
                return explanation.isAccepted
            }
            // SPEC: exit 1 when a step fails; the step lines above already say which.
            if !accepted { throw ExitCode.failure }
        }
    }

    /// The client's row as a grant; `nil` when it is not registered.
    /// - Throws: `CommandFailure` when the registry cannot be read (no table, database error).
    static func grant(_ clientID: String, registry: ClientRegistry) throws -> ClientGrant? {
        do {
            let record = try registry.show(clientID)
            return ClientGrant(
                clientID: record.clientID, enabled: record.enabled, endpoints: record.endpoints,
                pinsSHA256: record.pinsSHA256, issuersSHA256: record.issuersSHA256)
        } catch  where error.code == .notFound {
            return nil
        } catch {
            throw CommandFailure.usage(error.message)
        }
    }

    /// The lines `issue` and `sign-csr` end with: identity, serial, fingerprint and the next step.
    static func printIssued(_ issued: IssuedClientCertificate) {
        print("client id:   \(issued.clientID)")
        print("serial:      \(issued.certificate.serialHex)")
        print("sha256:      \(issued.certificate.sha256)")
        print("next: webhookd clients add \(issued.clientID) --endpoint NAME")
    }
}
