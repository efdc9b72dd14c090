import Bytes
package import Posix

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
}

/// What happened to a delivery: the writer's answer, turned into the HTTP response by the connection.
package enum DeliveryOutcome: Sendable, Equatable {
    /// Committed; 200 with this id.
    case stored(id: String)
    /// The idempotency key was already stored for this client; 200 with the original id, nothing new.
    case duplicate(id: String)
    /// The database is unreachable or the commit failed; 503 with Retry-After.
    case unavailable
    /// The database refused this row for another reason; 500.
    case failed
}

/// A delivery plus where its outcome must go: the owning loop's completion queue and the connection.
package struct DeliveryTicket: Sendable {
    package var delivery: Delivery
    package var connectionID: UInt64
    package var replies: HandoffQueue<DeliveryCompletion>
}

/// A writer's answer for one connection, posted back to the loop that owns it.
package struct DeliveryCompletion: Sendable {
    package var connectionID: UInt64
    package var outcome: DeliveryOutcome
}

/// Random (version 4) UUIDs from the system CSPRNG, formatted as PostgreSQL prints them.
package enum UUIDv4 {
    package static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        var high = generator.next() as UInt64
        var low = generator.next() as UInt64
        high = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        var output: [UInt8] = []
        output.reserveCapacity(36)
        for (index, shift) in stride(from: 60, through: 0, by: -4).enumerated() {
            if index == 8 || index == 12 { output.append(UInt8(ascii: "-")) }
            output.append(Hex.digit(UInt8(truncatingIfNeeded: high >> UInt64(shift))))
        }
        for (index, shift) in stride(from: 60, through: 0, by: -4).enumerated() {
            if index == 0 || index == 4 { output.append(UInt8(ascii: "-")) }
            output.append(Hex.digit(UInt8(truncatingIfNeeded: low >> UInt64(shift))))
        }
        return String(decoding: output, as: UTF8.self)
    }
}
