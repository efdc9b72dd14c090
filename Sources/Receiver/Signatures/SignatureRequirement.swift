package import TLS

/// A payload signature scheme a client may use on top of mTLS (`clients.signature_scheme`).
package enum SignatureScheme: String, Sendable, Hashable, CaseIterable {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`.
    case standardWebhooks = "standard-webhooks"
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>`.
    case github
    /// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>`.
    case stripe
}

/// What a failed signature check leads to (`clients.signature_mode`).
package enum SignatureMode: String, Sendable, Hashable, CaseIterable {
    /// Anything but a valid signature is refused with 403.
    case required
    /// Every request is stored; `deliveries.signature_status` says what the check found.
    case optional
}

/// The verdict on one request (`deliveries.signature_status`).
package enum SignatureStatus: String, Sendable, Hashable {
    case valid, invalid, missing, expired

    /// The 403 reason code in required mode; nil for `valid`.
    package var refusal: RefusalReason? {
        switch self {
        case .valid: nil
        case .invalid: .signatureInvalid
        case .missing: .signatureMissing
        case .expired: .signatureExpired
        }
    }
}

/// One client's signature configuration as the receiver checks it: scheme, mode and every secret that may match
/// (several while a secret is rotated). Loaded with the authorization snapshot.
///
/// > Warning: `secrets` are key material: its `description` shows only how many there are, so a log line or an
/// > interpolated grant can never carry one.
package struct SignatureRequirement: Sendable, Hashable, CustomStringConvertible {
    package var scheme: SignatureScheme
    package var mode: SignatureMode
    /// The raw HMAC keys (a Standard Webhooks secret already Base64-decoded), in position order.
    package var secrets: [[UInt8]]

    /// Creates a requirement.
    package init(scheme: SignatureScheme, mode: SignatureMode, secrets: [[UInt8]]) {
        self.scheme = scheme
        self.mode = mode
        self.secrets = secrets
    }

    package var description: String { "\(scheme.rawValue) \(mode.rawValue), \(secrets.count) secret(s)" }
}

// MARK: - Reason codes

extension RefusalReason {
    /// The client's scheme is required and the request carries no signature (or not all of its headers).
    package static let signatureMissing = RefusalReason(code: "signature_missing")
    /// The signature does not match the body under any of the client's secrets, or is malformed.
    package static let signatureInvalid = RefusalReason(code: "signature_invalid")
    /// The signature matches, but its timestamp is outside `--signature-tolerance` of now.
    package static let signatureExpired = RefusalReason(code: "signature_expired")
}
