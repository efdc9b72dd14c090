import Bytes
package import HTTP1
import TLS

/// Issue 12's signature check: a pure decision over the exact body bytes and the request's headers, run once the
/// whole body has arrived and before the delivery is queued. Every comparison of a computed MAC with a presented
/// one is constant-time (`CRYPTO_memcmp`); any secret and any presented signature may match (rotation).
///
/// A presented signature that matches but whose timestamp is more than `toleranceSeconds` from `now` (either
/// direction) is `expired`; one that matches nothing is `invalid`, so `expired` always means "genuine, but old".
package enum SignatureCheck {
    /// The verdict on one request.
    /// - Parameters:
    ///   - now: Unix seconds.
    ///   - toleranceSeconds: `serve --signature-tolerance`.
    package static func verify(
        _ requirement: SignatureRequirement, head: HTTPRequestHead, body: [UInt8], now: Int64, toleranceSeconds: Int64
    ) -> SignatureStatus {
        switch requirement.scheme {
        case .standardWebhooks:
            return standardWebhooks(requirement.secrets, head, body, now: now, tolerance: toleranceSeconds)
        case .github:
            return github(requirement.secrets, head, body)
        case .stripe:
            return stripe(requirement.secrets, head, body, now: now, tolerance: toleranceSeconds)
        }
    }

    /// Standard Webhooks: HMAC-SHA256 of `{id}.{timestamp}.{body}`; `webhook-signature` holds space-separated
    /// `v1,<base64>` entries (other versions are skipped).
    private static func standardWebhooks(
        _ secrets: [[UInt8]], _ head: HTTPRequestHead, _ body: [UInt8], now: Int64, tolerance: Int64
    ) -> SignatureStatus {
        guard let id = head.firstValue(of: "webhook-id"), let timestamp = head.firstValue(of: "webhook-timestamp"),
            let signatures = head.firstValue(of: "webhook-signature")
        else { return .missing }
        let presented = signatures.utf8.split(separator: UInt8(ascii: " ")).compactMap { entry -> [UInt8]? in
            let prefix = Array("v1,".utf8)
            guard entry.starts(with: prefix) else { return nil }
            return Base64.decode(entry.dropFirst(prefix.count))
        }
        guard let seconds = Int64(timestamp) else { return .invalid }
        let signed = [Array(id.utf8), [UInt8(ascii: ".")], Array(timestamp.utf8), [UInt8(ascii: ".")], body]
        return decide(secrets, signed, presented, timestamp: seconds, now: now, tolerance: tolerance)
    }

    /// GitHub: HMAC-SHA256 of the body in `X-Hub-Signature-256: sha256=<hex>`; no timestamp.
    private static func github(_ secrets: [[UInt8]], _ head: HTTPRequestHead, _ body: [UInt8]) -> SignatureStatus {
        guard let header = head.firstValue(of: "X-Hub-Signature-256") else { return .missing }
        let prefix = Array("sha256=".utf8)
        guard header.utf8.starts(with: prefix), let mac = Hex.bytes(header.utf8.dropFirst(prefix.count)) else {
            return .invalid
        }
        return decide(secrets, [body], [mac], timestamp: nil, now: 0, tolerance: 0)
    }

    /// Stripe: HMAC-SHA256 of `{t}.{body}` in `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>]…` (other keys,
    /// such as the test-mode `v0`, are skipped).
    private static func stripe(
        _ secrets: [[UInt8]], _ head: HTTPRequestHead, _ body: [UInt8], now: Int64, tolerance: Int64
    ) -> SignatureStatus {
        guard let header = head.firstValue(of: "Stripe-Signature") else { return .missing }
        var timestamp: Substring?
        var presented: [[UInt8]] = []
        for item in header.split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else { continue }
            let key = pair[0].trimmingSpaces
            if key == "t", timestamp == nil { timestamp = pair[1].trimmingSpaces }
            if key == "v1", let mac = Hex.bytes(pair[1].trimmingSpaces.utf8) { presented.append(mac) }
        }
        guard let timestamp, let seconds = Int64(timestamp) else { return .invalid }
        let signed = [Array(timestamp.utf8), [UInt8(ascii: ".")], body]
        return decide(secrets, signed, presented, timestamp: seconds, now: now, tolerance: tolerance)
    }

    /// `valid` when some secret's MAC of `parts` equals some presented MAC and the timestamp (nil: the scheme has
    /// none) is within tolerance; `expired` when it matches but is not; `invalid` otherwise.
    private static func decide(
        _ secrets: [[UInt8]], _ parts: [[UInt8]], _ presented: [[UInt8]], timestamp: Int64?, now: Int64,
        tolerance: Int64
    ) -> SignatureStatus {
        guard !presented.isEmpty else { return .invalid }
        var matched = false
        for secret in secrets {
            let mac = HMACSHA256.mac(key: secret, parts: parts)
            // No early exit: every presented value is compared, each in constant time.
            for candidate in presented where HMACSHA256.constantTimeEqual(mac, candidate) { matched = true }
        }
        guard matched else { return .invalid }
        guard let timestamp else { return .valid }
        // Both directions; a difference that overflows is as far out as it gets.
        let (difference, overflow) = now.subtractingReportingOverflow(timestamp)
        return !overflow && difference.magnitude <= tolerance.magnitude ? .valid : .expired
    }
}

extension Substring {
    /// Without leading and trailing spaces (Stripe's header is written `t=…, v1=…` by some senders).
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}
