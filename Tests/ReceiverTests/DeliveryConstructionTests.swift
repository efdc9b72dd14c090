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
            head: head, body: body, endpoint: "orders", clientID: "acme",
            idempotencyKey: try? IdempotencyKey.of(head).get(), peer: peer, remoteHost: "127.0.0.1",
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

    static func key(_ headers: [HTTPHeader]) -> Result<String?, IdempotencyKey.Problem> {
        IdempotencyKey.of(
            HTTPRequestHead(
                method: "POST", target: "/webhooks/a", version: .http11, headers: headers, framing: .contentLength(0),
                keepAlive: true, expectsContinue: false))
    }

    @Test func theIdempotencyKeyIsTheFirstNonEmptyOfTheThreeHeadersInSpecOrder() {
        #expect(Self.key([]) == .success(nil))
        #expect(
            Self.key([
                HTTPHeader(name: "Idempotency-Key", value: "c"), HTTPHeader(name: "X-GitHub-Delivery", value: "b"),
            ])
                == .success("b"))
        #expect(
            Self.key([HTTPHeader(name: "webhook-id", value: ""), HTTPHeader(name: "idempotency-key", value: "c")])
                == .success("c"))
        #expect(
            Self.key([HTTPHeader(name: "Webhook-Id", value: "a"), HTTPHeader(name: "Idempotency-Key", value: "c")])
                == .success("a"))
        #expect(Self.delivery(headers: [HTTPHeader(name: "webhook-id", value: "evt 1")]).idempotencyKey == "evt 1")
    }

    @Test func keysThatCannotBeStoredExactlyAreRefusedNotReplaced() {
        let notUTF8 = HTTPHeader(name: "Idempotency-Key", value: "a\u{FFFD}", valueIsUTF8: false)
        #expect(Self.key([notUTF8]) == .failure(.invalidKey(header: "Idempotency-Key", why: "is not valid UTF-8")))
        let long = HTTPHeader(name: "webhook-id", value: String(repeating: "k", count: 1_025))
        #expect(Self.key([long]) == .failure(.invalidKey(header: "webhook-id", why: "is longer than 1024 bytes")))
        #expect(
            Self.key([HTTPHeader(name: "webhook-id", value: String(repeating: "k", count: 1_024))]) != .success(nil))
        for control in ["a\tb", "a\u{7F}", "a\u{85}b"] {
            #expect(
                Self.key([HTTPHeader(name: "webhook-id", value: control)])
                    == .failure(.invalidKey(header: "webhook-id", why: "holds a control character")))
        }
        // Another header that is not UTF-8 is refused too, so two requests never look equal after decoding.
        let other = HTTPHeader(name: "X-Trace", value: "\u{FFFD}", valueIsUTF8: false)
        #expect(
            Self.key([HTTPHeader(name: "webhook-id", value: "ok"), other])
                == .failure(.headerNotUTF8(header: "X-Trace")))
        // A later, ignored key header that is not UTF-8 is still a header that cannot be stored.
        #expect(
            Self.key([HTTPHeader(name: "webhook-id", value: "ok"), notUTF8])
                == .failure(.headerNotUTF8(header: "Idempotency-Key")))
    }

    @Test func aBodyThatIsNotJSONIsStoredButNotAsJSON() {
        #expect(!Self.delivery(headers: [], body: [0xFF, 0x00]).bodyIsJSON)
        #expect(!Self.delivery(headers: [], body: []).bodyIsJSON)
    }

    @Test func bodySHA256IsTheStandardDigest() {
        #expect(
            SHA256Digest.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Digest.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
