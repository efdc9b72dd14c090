/// The endpoint-name rule (SPEC "Clients"): the request path's endpoint and every grant but `*` match
/// `[A-Za-z0-9._-]{1,64}`. The request path checks it before authorizing; the registry before storing.
package enum EndpointName {
    /// True when `name` matches `[A-Za-z0-9._-]{1,64}`.
    package static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        return (1...64).contains(bytes.count)
            && bytes.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2E || byte == 0x5F || byte == 0x2D
            }
    }
}
