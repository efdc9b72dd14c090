import HTTP1
import Receiver
import TLS
import Testing

/// The row built from a finished request, before any database sees it.
@Suite("Delivery construction")
struct DeliveryConstructionTests {
    static let peer = PeerCertificate(
        subject: "CN=acme", issuer: "CN=CA", serialHex: "0A", sha256: String(repeating: "f", count: 64), notBefore: 0,
        notAfter: 1_900_000_000, commonNames: ["acme"], cnContainsNUL: false, issuerCertificateSHA256: nil)

    static func delivery(headers: [HTTPHeader], body: [UInt8] = Array(#"{"a":1}"#.utf8)) -> Delivery {
        let head = HTTPRequestHead(
            method: "POST", target: "/webhooks/orders?x=1", version: .http11, headers: headers,
            framing: .contentLength(body.count), keepAlive: true, expectsContinue: false)
        return Delivery(
            head: head, body: body, endpoint: "orders", clientID: "acme", peer: peer, remoteHost: "127.0.0.1",
            tlsVersion: "TLSv1.3", tlsCipher: "TLS_AES_128_GCM_SHA256")
    }

    @Test func headersAreStoredAsOrderedPairsWithRepeatsAndEscapes() {
        let delivery = Self.delivery(headers: [
            HTTPHeader(name: "X-B", value: "2"), HTTPHeader(name: "X-A", value: "q\"\\"),
            HTTPHeader(name: "X-B", value: "3"), HTTPHeader(name: "Content-Type", value: "application/json"),
        ])
        #expect(
            delivery.headersJSON
                == #"[["X-B","2"],["X-A","q\"\\"],["X-B","3"],["Content-Type","application/json"]]"#)
        #expect(delivery.contentType == "application/json")
        #expect(delivery.path == "/webhooks/orders")
        #expect(delivery.query == "x=1")
        #expect(delivery.bodyIsJSON)
        #expect(delivery.bodySHA256.count == 64)
        #expect(delivery.certSerial == "0A")
        #expect(delivery.id.count == 36)
    }

    @Test func theIdempotencyKeyIsTheFirstNonEmptyOfTheThreeHeadersInSpecOrder() {
        #expect(Self.delivery(headers: []).idempotencyKey == nil)
        #expect(
            Self.delivery(headers: [
                HTTPHeader(name: "Idempotency-Key", value: "c"), HTTPHeader(name: "X-GitHub-Delivery", value: "b"),
            ]).idempotencyKey == "b")
        #expect(
            Self.delivery(headers: [
                HTTPHeader(name: "webhook-id", value: ""), HTTPHeader(name: "idempotency-key", value: "c"),
            ]).idempotencyKey == "c")
        #expect(
            Self.delivery(headers: [
                HTTPHeader(name: "Webhook-Id", value: "a"), HTTPHeader(name: "Idempotency-Key", value: "c"),
            ])
            .idempotencyKey == "a")
    }

    @Test func aBodyThatIsNotJSONIsStoredButNotAsJSON() {
        #expect(!Self.delivery(headers: [], body: [0xFF, 0x00]).bodyIsJSON)
        #expect(!Self.delivery(headers: [], body: []).bodyIsJSON)
    }
}
