import Bytes
import HTTP1
import Receiver
import TestSupport
import Testing

/// The pure signature decision, against the Standard Webhooks published vector and MACs computed by `openssl mac`.
@Suite("Signature check")
struct SignatureCheckTests {
    static func head(_ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(
            method: "POST", target: "/webhooks/orders", version: .http11,
            headers: headers.map { HTTPHeader(name: $0.0, value: $0.1) }, framing: .contentLength(0), keepAlive: true,
            expectsContinue: false)
    }

    static let vectorSecret = Base64.decode(Array("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".utf8)) ?? []
    static let vectorBody = Array(#"{"test": 2432232314}"#.utf8)
    static let vectorHeaders = [
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", "1614265330"),
        ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
    ]

    func check(
        _ scheme: SignatureScheme, _ secrets: [[UInt8]], _ headers: [(String, String)], _ body: [UInt8],
        now: Int64
    ) -> SignatureStatus {
        SignatureCheck.verify(
            SignatureRequirement(scheme: scheme, mode: .required, secrets: secrets), head: Self.head(headers),
            body: body, now: now, toleranceSeconds: 300)
    }

    @Test func standardWebhooksPublishedVectorIsValid() {
        #expect(
            check(.standardWebhooks, [Self.vectorSecret], Self.vectorHeaders, Self.vectorBody, now: 1_614_265_330)
                == .valid)
        // Also among other entries, and with a second (rotated) secret listed first.
        var headers = Self.vectorHeaders
        headers[2].1 = "v1a,abc v1,AAAA v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        #expect(
            check(.standardWebhooks, [[1, 2, 3], Self.vectorSecret], headers, Self.vectorBody, now: 1_614_265_330)
                == .valid)
    }

    @Test func standardWebhooksVectorOutsideToleranceIsExpiredBothWays() {
        #expect(
            check(.standardWebhooks, [Self.vectorSecret], Self.vectorHeaders, Self.vectorBody, now: 1_614_265_331 + 300)
                == .expired)
        #expect(
            check(.standardWebhooks, [Self.vectorSecret], Self.vectorHeaders, Self.vectorBody, now: 1_614_265_329 - 300)
                == .expired)
        #expect(
            check(.standardWebhooks, [Self.vectorSecret], Self.vectorHeaders, Self.vectorBody, now: 1_614_265_330 + 300)
                == .valid)
    }

    @Test func standardWebhooksChangedBodyOrMissingHeaderIsInvalidOrMissing() {
        #expect(
            check(
                .standardWebhooks, [Self.vectorSecret], Self.vectorHeaders, Self.vectorBody + [0x20], now: 1_614_265_330
            )
                == .invalid)
        #expect(
            check(.standardWebhooks, [Self.vectorSecret], Array(Self.vectorHeaders.prefix(2)), Self.vectorBody, now: 0)
                == .missing)
        #expect(
            check(.standardWebhooks, [[9, 9]], Self.vectorHeaders, Self.vectorBody, now: 1_614_265_330) == .invalid)
    }

    @Test func githubSignatureComputedByOpenSSLIsValidAndAnotherIsInvalid() throws {
        let secret = Array("It's a Secret to Everybody".utf8)
        let body = Array("Hello, World!".utf8)
        let hex = try OpenSSLHMAC.hex(key: secret, message: body)
        // GitHub's documented example for this secret and body.
        #expect(hex == "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
        #expect(check(.github, [secret], [("X-Hub-Signature-256", "sha256=\(hex)")], body, now: 0) == .valid)
        #expect(check(.github, [secret], [("x-hub-signature-256", "sha256=\(hex)")], body + [1], now: 0) == .invalid)
        #expect(check(.github, [secret], [("X-Hub-Signature-256", hex)], body, now: 0) == .invalid)
        #expect(check(.github, [secret], [], body, now: 0) == .missing)
    }

    @Test func stripeSignatureComputedByOpenSSLIsValidWithinToleranceOnly() throws {
        let secret = Array("whsec_stripe_test_secret".utf8)
        let body = Array(#"{"id":"evt_1"}"#.utf8)
        let hex = try OpenSSLHMAC.hex(key: secret, message: Array("1700000000.".utf8) + body)
        let header = [("Stripe-Signature", "t=1700000000,v1=\(String(repeating: "0", count: 64)),v1=\(hex),v0=ab")]
        #expect(check(.stripe, [secret], header, body, now: 1_700_000_100) == .valid)
        #expect(check(.stripe, [secret], header, body, now: 1_700_000_301) == .expired)
        #expect(check(.stripe, [Array("other".utf8)], header, body, now: 1_700_000_000) == .invalid)
        #expect(check(.stripe, [secret], [("Stripe-Signature", "v1=\(hex)")], body, now: 1_700_000_000) == .invalid)
        #expect(check(.stripe, [secret], [], body, now: 0) == .missing)
    }

    @Test func requirementDescriptionNeverShowsASecret() {
        let requirement = SignatureRequirement(scheme: .github, mode: .optional, secrets: [Array("hunter2".utf8)])
        #expect("\(requirement)" == "github optional, 1 secret(s)")
    }
}
