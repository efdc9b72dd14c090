// libFuzzer harness for certificate identity extraction (issue 11): `Certificate.parseAll` (what
// `PeerCertificate.load` and `certs inspect/explain` use) and `PeerCertificate(borrowing:)` (what the handshake
// uses on the verified leaf), then `identity`. Built by fuzz/run.sh against the whole TLS module.
//
// The input is read twice: as a DER (or PEM) certificate, and as a DER Name that becomes the subject of an
// otherwise empty certificate (so mutations reach the CN code without breaking a certificate's outer
// encoding; the seeds hold both kinds). Signatures are not checked, so every subject OpenSSL can decode is
// reachable. Invariants, any violation traps:
// - `commonNames` lists exactly the subject's CN entries (counted independently with
//   `X509_NAME_get_index_by_NID`), multi-valued RDNs included, each the bytes `ASN1_STRING_to_UTF8` gives
//   (or the one-byte NUL placeholder when the value cannot be converted);
// - each CN is valid UTF-8, so `String(decoding:)` did not replace anything (a replaced CN could equal
//   another client's literal U+FFFD name);
// - `identity` is `.success(cn)` exactly when there is one CN without NUL, `.ambiguousCN` for more than one,
//   `.noCN` otherwise; `cnContainsNUL` is true exactly when a CN holds a NUL byte.
internal import COpenSSL

@testable import TLS

/// Stops the process with a message; libFuzzer records the input as a crash.
private func violated(_ message: String) -> Never {
    fatalError("fuzz invariant violated: \(message)")
}

/// The subject's CN values as UTF-8 bytes, read independently of `PeerCertificate.commonNames(of:)`.
private func expectedCommonNames(_ x509: OpaquePointer) -> [[UInt8]] {
    guard let name = X509_get_subject_name(x509) else { return [] }
    var result: [[UInt8]] = []
    var last: Int32 = -1
    while true {
        last = X509_NAME_get_index_by_NID(name, NID_commonName, last)
        guard last >= 0 else { break }
        guard let entry = X509_NAME_get_entry(name, last), let data = X509_NAME_ENTRY_get_data(entry) else {
            violated("CN entry \(last) without data")
        }
        var utf8: UnsafeMutablePointer<UInt8>? = nil
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        if length < 0 || utf8 == nil {
            result.append([0])
        } else if let utf8 {
            result.append(Array(UnsafeBufferPointer(start: utf8, count: Int(length))))
            COpenSSL_OPENSSL_free(utf8)
        }
    }
    ERR_clear_error()
    return result
}

/// Checks the facts of one parsed certificate.
private func check(_ x509: OpaquePointer) {
    let facts = PeerCertificate(borrowing: x509, issuerCertificateSHA256: nil)
    let expected = expectedCommonNames(x509)
    if facts.commonNames.count != expected.count {
        violated("\(facts.commonNames.count) CNs extracted, the subject has \(expected.count)")
    }
    for (name, bytes) in zip(facts.commonNames, expected) where !name.utf8.elementsEqual(bytes) {
        violated("CN \(name.debugDescription) is not the subject's bytes \(bytes)")
    }
    if facts.cnContainsNUL != expected.contains(where: { $0.contains(0) }) {
        violated("cnContainsNUL is \(facts.cnContainsNUL)")
    }
    switch facts.identity {
    case .success(let name):
        guard expected.count == 1, !expected[0].contains(0), name.utf8.elementsEqual(expected[0]) else {
            violated("identity \(name.debugDescription) from CNs \(expected)")
        }
    case .failure(let reason):
        let wanted: RefusalReason = expected.count > 1 ? .ambiguousCN : .noCN
        if expected.count == 1 && !expected[0].contains(0) { violated("one clean CN refused as \(reason)") }
        if reason != wanted { violated("refused as \(reason), expected \(wanted)") }
    }
    // The other facts are computed for every handshake and logged: they must not crash on odd encodings.
    _ = facts.subject.utf8.count + facts.issuer.utf8.count + facts.serialHex.utf8.count
}

/// libFuzzer's entry point.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let start, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: start, count: size))
    // The file path: PEM first, then DER, as `PeerCertificate.load(path:)` does.
    if let certificates = try? Certificate.parseAll(bytes) {
        for certificate in certificates { check(certificate.raw) }
    }
    ERR_clear_error()
    var cursor = Optional(start)
    if let name = d2i_X509_NAME(nil, &cursor, size) {
        defer { X509_NAME_free(name) }
        guard let x509 = X509_new() else { violated("X509_new failed") }
        defer { X509_free(x509) }
        // OpenSSL copies the name by re-encoding it, which fails for some decodable names: nothing to check.
        if X509_set_subject_name(x509, name) == 1 { check(x509) }
    }
    ERR_clear_error()
    return 0
}
