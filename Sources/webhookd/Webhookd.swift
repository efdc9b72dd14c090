import ArgumentParser

@main
struct Webhookd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhookd",
        abstract: "Receives webhooks over mutual TLS and commits them to PostgreSQL.",
        subcommands: [
            ServeCommand.self, DevCommand.self, MigrateCommand.self, ClientsCommand.self, CertsCommand.self,
            DeliveriesCommand.self, RetentionCommand.self,
        ]
    )
}
