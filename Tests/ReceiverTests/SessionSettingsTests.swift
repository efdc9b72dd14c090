import Postgres
import Receiver
import TestSupport
import Testing

/// What every receiver session runs with, whatever the role, the database or the URL say.
@Suite("Database session settings")
struct SessionSettingsTests {
    static func show(_ setting: String, on connection: PGConnection) throws -> String? {
        try connection.query("SELECT current_setting($1)", [.text(setting)]).string(0, 0)
    }

    @Test func synchronousCommitIsOnEvenWhenTheDatabaseDefaultIsOff() throws {
        let database = try TestDatabase.create(migrated: false)
        try database.connect().executeScript("ALTER DATABASE \"\(database.name)\" SET synchronous_commit = off")
        // A plain session sees the database default: the test would pass vacuously without it.
        #expect(try Self.show("synchronous_commit", on: database.connect()) == "off")
        let handle = try DatabaseLocation.url(database.url).open()
        let session = try handle.connect(applicationName: "webhookd writer")
        #expect(try Self.show("synchronous_commit", on: session) == "on")
        #expect(try Self.show("statement_timeout", on: session) == "15s")
    }

    @Test func theUsersOwnOptionsAreKeptBesideOurs() throws {
        let database = try TestDatabase.create(migrated: false)
        let url = database.url + "?options=-c%20work_mem%3D5MB%20-c%20synchronous_commit%3Doff"
        let session = try DatabaseLocation.url(url).open().connect()
        #expect(try Self.show("work_mem", on: session) == "5MB")
        // Ours come last and win: a URL cannot turn durability off either.
        #expect(try Self.show("synchronous_commit", on: session) == "on")
    }

    @Test func optionsAreMergedInOrder() {
        #expect(DatabaseHandle.sessionOptions(userOptions: nil).hasSuffix("-c synchronous_commit=on"))
        #expect(DatabaseHandle.sessionOptions(userOptions: "  ") == DatabaseHandle.sessionOptions(userOptions: nil))
        #expect(DatabaseHandle.sessionOptions(userOptions: "-c work_mem=5MB").hasPrefix("-c work_mem=5MB -c "))
        #expect(PGConnection.connectionOption("options", in: "postgresql://h/db?options=-c%20a%3D1") == "-c a=1")
        #expect(PGConnection.connectionOption("options", in: "postgresql://h/db") == nil)
    }
}
