import ArgumentParser
import Foundation
import Operations
import Posix
import Postgres
import Receiver
import TLS

struct DevCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract:
            "One-command demo: dev PKI in certs/, embedded PostgreSQL, client demo-client on endpoint demo, serving on 127.0.0.1:8443."
    )

    @Option(help: "Address to listen on [127.0.0.1:8443]") var listen: String = "127.0.0.1:8443"
    @Option(help: "Directory for the dev PKI [certs]") var dir: String = "certs"
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        try reportingFailures {
            let address: SocketAddress
            do {
                address = try SocketAddress(parsing: listen)
            } catch {
                throw CommandFailure.usage("--listen \(error)")
            }
            // SPEC: check the port before creating files or starting anything.
            if let problem = PortProbe.unavailableReason(address) {
                throw CommandFailure.usage(
                    "--listen \(address): \(problem); stop what uses it or pass --listen 127.0.0.1:PORT")
            }
            let pki: DevPKIPaths
            do {
                pki = try DevPKI.ensure(directory: dir, clientID: "demo-client")
            } catch {
                throw CommandFailure.failure("\(error)")
            }
            let migrator = try database.migrator()
            try database.withConnection { connection in
                do {
                    try migrator.apply(on: connection)
                    try DemoRegistration.ensure(clientID: "demo-client", endpoint: "demo", on: connection)
                } catch {
                    throw CommandFailure.failure("\(error)")
                }
            }
            var configuration = ReceiverConfiguration(
                listen: address,
                tls: TLSServerConfiguration(
                    certificateChainPath: pki.serverCertificate, privateKeyPath: pki.serverKey,
                    clientCAPath: pki.caCertificate),
                workers: ProcessInfo.processInfo.activeProcessorCount)
            configuration.drainTimeout = .seconds(7)
            // Health and metrics on 127.0.0.1:9090 like serve's default, unless something else holds it.
            let admin = SocketAddress(host: "127.0.0.1", port: 9090)
            configuration.adminListen = PortProbe.unavailableReason(admin) == nil ? admin : nil
            try ReceiverRunner.run(
                configuration: configuration, database: database, migrator: migrator, logFormat: .text,
                databaseWait: .seconds(30)
            ) { server, handle in
                let url = "https://localhost:\(server.boundAddress.port)/webhooks/demo"
                let psql = handle.lease?.psqlCommand ?? "psql \"$DATABASE_URL\""
                let metrics =
                    server.configuration.adminListen.map { "curl http://\($0)/metrics   (health: /healthz, /readyz)" }
                    ?? "(the admin listener is off: 127.0.0.1:9090 is in use)"
                print(
                    """

                    webhookd dev is running on \(server.boundAddress) (Ctrl-C stops it).

                    Deliver a webhook as demo-client:
                      curl --cacert \(pki.caCertificate) --cert \(pki.clientCertificate) --key \(pki.clientKey) \\
                        -H 'Content-Type: application/json' -H 'webhook-id: msg_1' \\
                        -d '{"type":"invoice.paid","amount":4200}' \(url)

                    Health and metrics:
                      \(metrics)

                    See what arrived:
                      \(psql) -c "SELECT id, received_at, client_id, endpoint, body_json FROM deliveries ORDER BY received_at DESC LIMIT 5"

                    """)
                fflush(nil)  // flush every stream: the banner must show before the first log line
            }
        }
    }
}
