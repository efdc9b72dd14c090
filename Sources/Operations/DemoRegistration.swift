package import Posix
package import Postgres

/// `webhookd dev`'s client: registered on its endpoint, enabled, whatever state it was left in.
package enum DemoRegistration {
    package static func ensure(clientID: String, endpoint: String, on connection: PGConnection) throws {
        let registry = ClientRegistry(connection: connection)
        do {
            _ = try registry.add(
                clientID: clientID, endpoints: [endpoint], description: "webhookd dev demo client", pins: [],
                issuers: [])
        } catch let error where error.code == .alreadyExists {
            try registry.grant(clientID, endpoint: endpoint)
            try registry.setEnabled(clientID, true)
        }
    }
}

/// Tells whether an address can be listened on, without keeping it.
package enum PortProbe {
    /// nil when free, else the reason (e.g. "address already in use").
    package static func unavailableReason(_ address: SocketAddress) -> String? {
        do {
            let socket = try Socket.listen(on: address, reusePort: false)
            socket.close()
            return nil
        } catch {
            return error.reason
        }
    }
}
