import Bytes
import Glibc
package import Posix
import Synchronization

/// One accepted webhook on its way to the `deliveries` table: every SPEC column, computed on the
/// connection's loop before the hand-off so the writer only binds values.
package struct Delivery: Sendable {
    package var id: String
    package var clientID: String
    package var endpoint: String
    package var method: String
    package var path: String
    package var query: String?
    /// The request headers as a JSON array of `[name, value]` pairs in arrival order.
    package var headersJSON: String
    package var contentType: String?
    package var body: [UInt8]
    /// True when `body` is JSON that `jsonb` accepts; the writer then stores it in `body_json` too.
    package var bodyIsJSON: Bool
    package var bodySHA256: String
    package var idempotencyKey: String?
    package var certSubject: String
    package var certIssuer: String
    package var certSerial: String
    package var certSHA256: String
    package var certNotAfter: Int64
    package var remoteAddress: String
    package var tlsVersion: String
    package var tlsCipher: String
    /// `deliveries.signature_status`; nil when the client has no signature scheme.
    package var signatureStatus: SignatureStatus? = nil
}

/// What happened to a delivery: the writer's answer, turned into the HTTP response by the connection.
package enum DeliveryOutcome: Sendable, Equatable {
    /// Committed; 200 with this id.
    case stored(id: String)
    /// The idempotency key was already stored for this client; 200 with the original id, nothing new.
    case duplicate(id: String)
    /// Not stored, and it never will be (the statement rolled back, or the row was withdrawn);
    /// 503 with Retry-After.
    case unavailable
    /// The database refused this row's data even alone and without `body_json`: it cannot be stored as
    /// sent; 400, so the provider does not retry the same bytes forever.
    case refused
    /// The connection to the database broke during the commit and the row could not be looked up in
    /// time: any answer could be a lie, so the client's connection is closed without one.
    case unknown
}

/// A delivery plus where its outcome must go: the owning loop's completion queue and the connection.
package struct DeliveryTicket: Sendable {
    package var delivery: Delivery
    package var connectionID: UInt64
    package var replies: HandoffQueue<DeliveryCompletion>
    /// Decides, once, between the writer taking it and the connection withdrawing it.
    package var claim = TicketClaim()
    /// The body's bytes against `--max-buffered-bytes`, given back when the last copy of the ticket goes.
    package var hold: ReceiverBudgets.Hold?

    package init(
        delivery: Delivery, connectionID: UInt64, replies: HandoffQueue<DeliveryCompletion>,
        hold: ReceiverBudgets.Hold? = nil
    ) {
        self.delivery = delivery
        self.connectionID = connectionID
        self.replies = replies
        self.hold = hold
    }
}

/// Who has a queued delivery: a writer that put it in a statement, or its connection that gave up on it
/// (commit timeout, shutdown). Exactly one of the two wins, so a delivery answered 503 is never written
/// afterwards, and a delivery in a statement is never answered 503 before the statement's outcome.
package final class TicketClaim: Sendable, Equatable {
    package static func == (lhs: TicketClaim, rhs: TicketClaim) -> Bool { lhs === rhs }

    private static let waiting: UInt8 = 0
    private static let taken: UInt8 = 1
    private static let withdrawn: UInt8 = 2
    private let state = Atomic<UInt8>(TicketClaim.waiting)

    package init() {}

    /// The writer takes it for a batch; false when its connection withdrew it first.
    package func take() -> Bool {
        state.compareExchange(expected: Self.waiting, desired: Self.taken, ordering: .acquiringAndReleasing).exchanged
    }

    /// The connection withdraws it; false when a writer already took it (then its outcome will come).
    package func withdraw() -> Bool {
        state.compareExchange(expected: Self.waiting, desired: Self.withdrawn, ordering: .acquiringAndReleasing)
            .exchanged
    }
}

/// A writer's answer for one connection, posted back to the loop that owns it.
package struct DeliveryCompletion: Sendable {
    package var connectionID: UInt64
    package var outcome: DeliveryOutcome
}

/// Time-ordered (version 7, RFC 9562 §5.7) UUIDs, formatted as PostgreSQL prints them: 48 bits of Unix
/// time in milliseconds, the version, 12 random bits, the variant and 62 random bits from the system
/// CSPRNG. Ids made later sort after earlier ones (to the millisecond), so the primary key's btree grows
/// at its right edge instead of touching a random leaf page per insert as version 4 ids did; 74 random
/// bits keep them unguessable and unique across threads and receivers.
package enum UUIDv7 {
    /// A new id for the current time.
    package static func make() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return make(unixMilliseconds: UInt64(now.tv_sec) &* 1000 &+ UInt64(now.tv_nsec / 1_000_000))
    }

    /// A new id for `unixMilliseconds` (only its low 48 bits fit, which last until the year 10889).
    package static func make(unixMilliseconds: UInt64) -> String {
        let (first, second) = SecureRandom.twoWords()
        let high = (unixMilliseconds << 16) | 0x7000 | (first & 0x0FFF)
        let low = (second & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return format(high: high, low: low)
    }

    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower-case hex.
    static func format(high: UInt64, low: UInt64) -> String {
        String(unsafeUninitializedCapacity: 36) { output in
            var position = 0
            for (index, shift) in stride(from: 60, through: 0, by: -4).enumerated() {
                if index == 8 || index == 12 {
                    output[position] = UInt8(ascii: "-")
                    position += 1
                }
                output[position] = Hex.digit(UInt8(truncatingIfNeeded: high >> UInt64(shift)))
                position += 1
            }
            for (index, shift) in stride(from: 60, through: 0, by: -4).enumerated() {
                if index == 0 || index == 4 {
                    output[position] = UInt8(ascii: "-")
                    position += 1
                }
                output[position] = Hex.digit(UInt8(truncatingIfNeeded: low >> UInt64(shift)))
                position += 1
            }
            return position
        }
    }
}
