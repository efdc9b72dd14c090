import ArgumentParser

@main
struct Webhookd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhookd",
        abstract: "Receives webhooks over mutual TLS and commits them to PostgreSQL.",
        subcommands: [MigrateCommand.self, ClientsCommand.self, CertsCommand.self]
    )
}
