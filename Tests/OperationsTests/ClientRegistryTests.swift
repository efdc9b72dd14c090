import Operations
import Postgres
import TestSupport
import Testing

/// `ClientRegistry` against a fresh, migrated database per test.
@Suite("ClientRegistry")
struct ClientRegistryTests {
    @Test("add, list, show, disable, enable, grant, revoke-endpoint and remove round-trip through the table")
    func fullRoundTrip() throws {
        let connection = try TestDatabase.create().connect()
        let registry = ClientRegistry(connection: connection)

        let added = try registry.add(
            clientID: "acme", endpoints: ["orders", "orders", "refunds"], description: "Acme Corp", pins: [],
            issuers: [])
        #expect(added.clientID == "acme")
        #expect(added.endpoints == ["orders", "refunds"])
        #expect(added.enabled)
        #expect(added.description == "Acme Corp")
        #expect(added.pinsSHA256.isEmpty && added.issuersSHA256.isEmpty)
        #expect(added.lastSeenAt == nil && added.lastCertNotAfter == nil)
        #expect(added.createdAt.hasSuffix("Z") && added.createdAt.count == 20)

        _ = try registry.add(clientID: "globex", endpoints: [], description: "", pins: [], issuers: [])
        #expect(try registry.list().map(\.clientID) == ["acme", "globex"])
        #expect(try registry.show("acme") == added)

        #expect(try registry.setEnabled("acme", false).enabled == false)
        #expect(try registry.show("acme").enabled == false)
        #expect(try registry.setEnabled("acme", true).enabled == true)

        #expect(try registry.grant("acme", endpoint: "billing").endpoints == ["orders", "refunds", "billing"])
        #expect(try registry.grant("acme", endpoint: "billing").endpoints == ["orders", "refunds", "billing"])
        #expect(try registry.revokeEndpoint("acme", endpoint: "orders").endpoints == ["refunds", "billing"])
        #expect(try registry.revokeEndpoint("acme", endpoint: "orders").endpoints == ["refunds", "billing"])
        #expect(try registry.grant("globex", endpoint: "*").endpoints == ["*"])

        try registry.remove("acme")
        #expect(try registry.list().map(\.clientID) == ["globex"])
        let gone = #expect(throws: RegistryError.self) { try registry.show("acme") }
        #expect(gone?.code == .notFound)
    }

    @Test("adding an existing id fails with alreadyExists and a message pointing to grant and enable")
    func duplicateAddPointsToGrantAndEnable() throws {
        let registry = ClientRegistry(connection: try TestDatabase.create().connect())
        _ = try registry.add(clientID: "acme", endpoints: ["orders"], description: "", pins: [], issuers: [])
        let error = #expect(throws: RegistryError.self) {
            try registry.add(clientID: "acme", endpoints: ["billing"], description: "", pins: [], issuers: [])
        }
        #expect(error?.code == .alreadyExists)
        #expect(error?.message.contains("grant") == true)
        #expect(error?.message.contains("enable") == true)
        #expect(error?.message.contains("acme") == true)
        #expect(error?.message.contains("\n") == false)
        // The first registration is untouched.
        #expect(try registry.show("acme").endpoints == ["orders"])
    }

    @Test("every operation on an unknown id fails with notFound")
    func unknownIDIsNotFound() throws {
        let registry = ClientRegistry(connection: try TestDatabase.create().connect())
        let operations: [(String, () throws -> Void)] = [
            ("show", { _ = try registry.show("nobody") }),
            ("disable", { try registry.setEnabled("nobody", false) }),
            ("enable", { try registry.setEnabled("nobody", true) }),
            ("grant", { try registry.grant("nobody", endpoint: "orders") }),
            ("revoke-endpoint", { try registry.revokeEndpoint("nobody", endpoint: "orders") }),
            ("remove", { try registry.remove("nobody") }),
        ]
        for (name, operation) in operations {
            let error = #expect(throws: RegistryError.self, "\(name)") { try operation() }
            #expect(error?.code == .notFound, "\(name)")
            #expect(error?.message.contains("nobody") == true, "\(name)")
        }
    }

    @Test(
        "invalid endpoint names are refused and '*' is accepted",
        arguments: [
            "a/b", String(repeating: "e", count: 65), "", "*x", "x*", "a b", "caf\u{E9}", "../etc", "a?b",
        ])
    func invalidEndpointsAreRefused(endpoint: String) throws {
        let registry = ClientRegistry(connection: try TestDatabase.create().connect())
        let onAdd = #expect(throws: RegistryError.self) {
            try registry.add(clientID: "acme", endpoints: [endpoint], description: "", pins: [], issuers: [])
        }
        #expect(onAdd?.code == .invalidInput)
        #expect(onAdd?.message.contains("'\(endpoint)'") == true)
        #expect(try registry.list().isEmpty, "nothing is stored after a refused add")

        _ = try registry.add(clientID: "acme", endpoints: ["*"], description: "", pins: [], issuers: [])
        let onGrant = #expect(throws: RegistryError.self) { try registry.grant("acme", endpoint: endpoint) }
        #expect(onGrant?.code == .invalidInput)
        #expect(try registry.show("acme").endpoints == ["*"])
    }

    @Test("endpoint names at the edges of the pattern are accepted")
    func validEndpointEdges() throws {
        let registry = ClientRegistry(connection: try TestDatabase.create().connect())
        let names = ["*", String(repeating: "e", count: 64), "a", "A.b_c-9", "..."]
        let record = try registry.add(clientID: "edge", endpoints: names, description: "", pins: [], issuers: [])
        #expect(record.endpoints == names)
    }

    @Test("pins and issuers with colons or upper case are stored as 64 lower-case hex digits")
    func fingerprintsAreNormalised() throws {
        let registry = ClientRegistry(connection: try TestDatabase.create().connect())
        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        let withColons = stride(from: 0, to: 64, by: 2).map { offset in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return String(hex[start..<hex.index(start, offsetBy: 2)])
        }.joined(separator: ":").uppercased()
        let issuer = hex.uppercased()

        let record = try registry.add(
            clientID: "pinned", endpoints: [], description: "", pins: [withColons, hex], issuers: [issuer])
        #expect(record.pinsSHA256 == [hex, hex])
        #expect(record.issuersSHA256 == [hex])
        #expect(try registry.show("pinned").pinsSHA256 == [hex, hex])
    }

    @Test(
        "a fingerprint that is not 64 hex digits is refused, naming its flag",
        arguments: [
            String(repeating: "a", count: 63), String(repeating: "a", count: 65), String(repeating: "g", count: 64), "",
        ])
    func malformedFingerprintsAreRefused(fingerprint: String) throws {
        let registry = ClientRegistry(connection: try TestDatabase.create().connect())
        let pinError = #expect(throws: RegistryError.self) {
            try registry.add(clientID: "c", endpoints: [], description: "", pins: [fingerprint], issuers: [])
        }
        #expect(pinError?.code == .invalidInput)
        #expect(pinError?.message.contains("--pin-sha256") == true)
        let issuerError = #expect(throws: RegistryError.self) {
            try registry.add(clientID: "c", endpoints: [], description: "", pins: [], issuers: [fingerprint])
        }
        #expect(issuerError?.message.contains("--issuer-sha256") == true)
        #expect(try registry.list().isEmpty)
    }

    @Test("a client id full of SQL and quoting characters is stored and read back byte for byte")
    func hostileClientIDRoundTrips() throws {
        let connection = try TestDatabase.create().connect()
        let registry = ClientRegistry(connection: connection)
        let id = "x'); DROP TABLE clients; -- \"quoted\" \\ $1 {a,b} \u{1F600} caf\u{E9}"
        let description = "O'Reilly; DELETE FROM clients WHERE true; --"
        let added = try registry.add(
            clientID: id, endpoints: ["orders"], description: description, pins: [], issuers: [])
        #expect(Array(added.clientID.utf8) == Array(id.utf8))
        #expect(added.description == description)
        #expect(try registry.show(id).clientID == id)
        #expect(try registry.list().map(\.clientID) == [id])
        #expect(try registry.grant(id, endpoint: "billing").endpoints == ["orders", "billing"])
        let stored = try connection.query("SELECT client_id FROM clients")
        #expect(stored.string(0, 0) == id)
        try registry.remove(id)
        #expect(try registry.list().isEmpty)
    }

    @Test(
        "client ids that cannot be a certificate CN are refused",
        arguments: [
            "", "line\nbreak", "tab\there", "nul\u{0}byte", String(repeating: "x", count: 256),
        ])
    func invalidClientIDsAreRefused(id: String) throws {
        let registry = ClientRegistry(connection: try TestDatabase.create().connect())
        let error = #expect(throws: RegistryError.self) {
            try registry.add(clientID: id, endpoints: [], description: "", pins: [], issuers: [])
        }
        #expect(error?.code == .invalidInput)
    }
}
