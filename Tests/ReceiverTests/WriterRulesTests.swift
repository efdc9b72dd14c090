import Foundation
import Postgres
import Receiver
import Synchronization
import Testing

/// The writer's decisions that need no database: who owns a queued delivery, and what an error means.
@Suite("Writer rules")
struct WriterRulesTests {
    @Test func exactlyOneOfWriterAndConnectionWinsAClaim() {
        let taken = TicketClaim()
        #expect(taken.take())
        #expect(!taken.withdraw())  // in a statement: its outcome will come, no 503 now
        #expect(!taken.take())
        let withdrawn = TicketClaim()
        #expect(withdrawn.withdraw())
        #expect(!withdrawn.take())  // answered 503: never written afterwards
    }

    @Test func racingClaimsHaveOneWinner() {
        for _ in 0..<200 {
            let claim = TicketClaim()
            let wins = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: 2) { side in
                if side == 0 ? claim.take() : claim.withdraw() { wins.add(1, ordering: .relaxed) }
            }
            #expect(wins.load(ordering: .relaxed) == 1)
        }
    }

    @Test(arguments: [
        ("22P02", WriteFailure.rowData), ("23505", .rowData), ("22021", .rowData), ("57014", .databaseCondition),
        ("55P03", .databaseCondition), ("53100", .databaseCondition), ("25006", .databaseCondition),
        ("40P01", .databaseCondition), ("54000", .rowData), ("57P01", .outcomeUnknown),
        ("08006", .outcomeUnknown),
    ])
    func errorsAreClassifiedBySQLState(state: String, expected: WriteFailure) {
        #expect(WriteFailure(PostgresError(.queryFailed, "x", sqlState: state)) == expected)
    }

    @Test func aLostConnectionWithoutSQLStateIsAnUnknownOutcome() {
        #expect(WriteFailure(PostgresError(.connectionLost, "server closed the connection")) == .outcomeUnknown)
    }
}

@Suite("Writer rules: sessions the server ended")
struct WriterSessionEndedTests {
    @Test func anErrorThatEndedTheSessionLeavesTheOutcomeUnknownWhateverItsSQLState() {
        // A PANIC after the commit record (XX000), a failed WAL flush (58030): the commit may be on disk.
        for state in ["XX000", "58030", "53200", "40P01"] {
            #expect(
                WriteFailure(PostgresError(.queryFailed, "x", sqlState: state), sessionAlive: false) == .outcomeUnknown)
        }
        #expect(
            WriteFailure(PostgresError(.queryFailed, "x", sqlState: "40P01"), sessionAlive: true) == .databaseCondition)
    }

    @Test func aTinyRateNeverOverflowsTheRetryAfter() {
        let throttle = ClientThrottle()
        let now = ContinuousClock.now
        #expect(throttle.admitRequest("slow", rate: 1e-20, burst: 1, now: now) == nil)
        #expect(
            throttle.admitRequest("slow", rate: 1e-20, burst: 1, now: now) == .rateLimited(retryAfterSeconds: 86_400))
    }
}
