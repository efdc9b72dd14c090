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
        ("40P01", .databaseCondition), ("54000", .databaseCondition), ("57P01", .outcomeUnknown),
        ("08006", .outcomeUnknown),
    ])
    func errorsAreClassifiedBySQLState(state: String, expected: WriteFailure) {
        #expect(WriteFailure(PostgresError(.queryFailed, "x", sqlState: state)) == expected)
    }

    @Test func aLostConnectionWithoutSQLStateIsAnUnknownOutcome() {
        #expect(WriteFailure(PostgresError(.connectionLost, "server closed the connection")) == .outcomeUnknown)
    }
}
