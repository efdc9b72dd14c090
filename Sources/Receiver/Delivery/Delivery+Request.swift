package import HTTP1
package import TLS

extension Delivery {
    /// The row for a finished request (`idempotencyKey` as `IdempotencyKey.of` found it): every SPEC column (headers as `[name, value]` pairs in arrival
    /// order, exact body bytes, body_json eligibility, SHA-256, certificate and TLS facts).
    package init(
        head: HTTPRequestHead, body: [UInt8], endpoint: String, clientID: String, idempotencyKey: String?,
        peer: PeerCertificate,
        remoteHost: String, tlsVersion: String, tlsCipher: String
    ) {
        self.init(
            id: UUIDv7.make(), clientID: clientID, endpoint: endpoint, method: head.method, path: head.path,
            query: head.query, headersJSON: Self.headersJSON(head.headers),
            contentType: head.firstValue(of: "Content-Type"), body: body,
            bodyIsJSON: JSONText.isJSONBCompatible(body), bodySHA256: SHA256Digest.hex(body),
            idempotencyKey: idempotencyKey, certSubject: peer.subject, certIssuer: peer.issuer,
            certSerial: peer.serialHex, certSHA256: peer.sha256, certNotAfter: peer.notAfter,
            remoteAddress: remoteHost, tlsVersion: tlsVersion, tlsCipher: tlsCipher)
    }

    /// `headers` as SPEC stores it: a JSON array of `[name, value]` pairs, in arrival order.
    package static func headersJSON(_ headers: [HTTPHeader]) -> String {
        var json: [UInt8] = []
        json.reserveCapacity(headers.reduce(2) { $0 + $1.name.utf8.count + $1.value.utf8.count + 8 })
        json.append(UInt8(ascii: "["))
        for (index, header) in headers.enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            json.append(UInt8(ascii: "["))
            JSONString.append(header.name, to: &json)
            json.append(UInt8(ascii: ","))
            JSONString.append(header.value, to: &json)
            json.append(UInt8(ascii: "]"))
        }
        json.append(UInt8(ascii: "]"))
        return String(decoding: json, as: UTF8.self)
    }
}
