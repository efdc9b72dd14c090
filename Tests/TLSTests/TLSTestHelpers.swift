import Foundation
import Glibc
import TLS
import TestSupport

/// Shared set-up for TLS tests: SIGPIPE ignored, the per-run PKI, server contexts and the openssl CLI.
enum TLSTestHelpers {
    /// The per-run PKI (SIGPIPE is ignored first: OpenSSL writes alerts with plain write(2)).
    static let pki: TestPKI = {
        signal(SIGPIPE, SIG_IGN)
        return TestPKI.shared
    }()

    /// A server context trusting the root and second CA, with the given CRLs.
    static func serverContext(
        crls: [String] = [], clientCA: String? = nil, verifyDepth: Int = 4
    ) throws -> TLSContext {
        try TLSContext(
            configuration: TLSServerConfiguration(
                certificateChainPath: pki.serverCertificate, privateKeyPath: pki.serverKey,
                clientCAPath: clientCA ?? pki.clientCABundle, crlPaths: crls, verifyDepth: verifyDepth))
    }

    /// One connection: the server's outcome and what the client got from handshake + GET.
    static func attempt(
        _ client: TestSupportClientFiles?, context: TLSContext, maximumVersion: TLSProtocolVersion? = nil
    ) throws -> (server: TestSupportServerOutcome, client: Result<TLSTestClient.HTTPResponse, TLSTestClient.Failure>) {
        let server = try TestSupportTLSServer(context: context)
        let tlsClient = try TLSTestClient(
            port: server.port, certificateChainPath: client?.chainPath, keyPath: client?.keyPath,
            trustedCAPath: pki.rootCA, maximumVersion: maximumVersion)
        let result = Result { () throws(TLSTestClient.Failure) in try tlsClient.get() }
        guard let outcome = server.nextOutcome() else { throw TestFailure("the test server saw no connection") }
        return (outcome, result)
    }

    /// Runs the openssl CLI and returns its standard output.
    static func openssl(_ arguments: [String]) throws -> String {
        let result = try TestSupportProcess.run("/usr/bin/openssl", arguments)
        let text = result.stdout + result.stderr
        guard result.status == 0 else {
            throw TestFailure("openssl \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    /// Text after the first "=" of openssl's `name=value` output, trimmed.
    static func value(_ output: String) -> String {
        let line = output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let equals = line.firstIndex(of: "=") else { return line }
        return String(line[line.index(after: equals)...])
    }

    /// The fingerprint openssl prints, normalised (no colons, lower case).
    static func fingerprint(_ path: String) throws -> String {
        value(try openssl(["x509", "-in", path, "-noout", "-fingerprint", "-sha256"]))
            .replacingOccurrences(of: ":", with: "").lowercased()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
