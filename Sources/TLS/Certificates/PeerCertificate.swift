import Bytes
internal import COpenSSL
import Glibc

/// The facts webhookd logs, stores and authorizes on for one X.509 certificate: a plain value, safe to keep
/// after the connection and its OpenSSL objects are gone.
///
/// Formats follow SPEC "Precise behaviour": RFC 4514 names, upper-case hex serial as `openssl x509 -serial`
/// prints it, SHA-256 as 64 lower-case hex digits.
package struct PeerCertificate: Sendable, Equatable, Hashable {
    /// The subject in RFC 4514 form, e.g. `CN=acme,O=Example` (as `openssl x509 -nameopt RFC2253` prints it).
    package let subject: String
    /// The issuer in RFC 4514 form.
    package let issuer: String
    /// The serial number in upper-case hex, as `openssl x509 -serial` prints it (without `serial=`).
    package let serialHex: String
    /// SHA-256 of the DER encoding, 64 lower-case hex digits.
    package let sha256: String
    /// notBefore in unix seconds.
    package let notBefore: Int64
    /// notAfter in unix seconds.
    package let notAfter: Int64
    /// Every CN in the subject, in order, converted to UTF-8 from any ASN.1 string type; both values of a
    /// multi-valued RDN `CN=a+CN=b` are listed.
    package let commonNames: [String]
    /// Whether any CN holds a NUL byte (SPEC: such a CN is refused).
    package let cnContainsNUL: Bool
    /// SHA-256 of the issuing CA certificate from the verified chain (issuer pinning); `nil` when unknown,
    /// e.g. for a certificate that failed verification or was loaded from a file.
    package let issuerCertificateSHA256: String?
    /// Whether the certificate says it is a CA (basicConstraints CA:TRUE).
    package let isCA: Bool

    /// Creates facts from their parts (tests and the receiver's snapshot use this).
    package init(
        subject: String, issuer: String, serialHex: String, sha256: String, notBefore: Int64, notAfter: Int64,
        commonNames: [String], cnContainsNUL: Bool, issuerCertificateSHA256: String?, isCA: Bool = false
    ) {
        self.subject = subject
        self.issuer = issuer
        self.serialHex = serialHex
        self.sha256 = sha256
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.commonNames = commonNames
        self.cnContainsNUL = cnContainsNUL
        self.issuerCertificateSHA256 = issuerCertificateSHA256
        self.isCA = isCA
    }

    /// The identity SPEC derives from the subject: exactly one CN without NUL bytes.
    ///
    /// SPEC: no CN → `no_cn`; more than one CN → `ambiguous_cn`; a CN containing NUL is refused, and is
    /// reported as `no_cn` because it names no usable identity.
    package var identity: Result<String, RefusalReason> {
        if commonNames.count > 1 { return .failure(.ambiguousCN) }
        guard let name = commonNames.first, !cnContainsNUL else { return .failure(.noCN) }
        return .success(name)
    }

    /// Reads the first certificate of a PEM or DER file.
    /// - Throws: `TLSError` with code `.certificate` naming the file.
    package static func load(path: String) throws(TLSError) -> PeerCertificate {
        try Certificate(file: path).facts
    }
}

/// Facts about a server or CA certificate: the same value type as a peer's.
package typealias CertificateFacts = PeerCertificate

extension PeerCertificate {
    /// Reads the facts of a borrowed `X509 *` (not freed here).
    init(borrowing x509: OpaquePointer, issuerCertificateSHA256: String?) {
        let names = Self.commonNames(of: X509_get_subject_name(x509))
        self.init(
            subject: Self.rfc4514(X509_get_subject_name(x509)),
            issuer: Self.rfc4514(X509_get_issuer_name(x509)),
            serialHex: Self.serialHex(X509_get0_serialNumber(x509)),
            sha256: Self.sha256Hex(of: x509),
            notBefore: Self.unixTime(X509_get0_notBefore(x509)),
            notAfter: Self.unixTime(X509_get0_notAfter(x509)),
            commonNames: names.map { String(decoding: $0, as: UTF8.self) },
            cnContainsNUL: names.contains { $0.contains(0) },
            issuerCertificateSHA256: issuerCertificateSHA256,
            isCA: X509_get_extension_flags(x509) & UInt32(EXFLAG_CA) != 0
        )
    }

    /// An X509_NAME in RFC 4514 form, via `X509_NAME_print_ex` with `XN_FLAG_RFC2253`.
    static func rfc4514(_ name: OpaquePointer?) -> String {
        guard let name, let bio = try? MemoryBIO() else { return "" }
        ERR_clear_error()
        guard X509_NAME_print_ex(bio.raw, name, 0, COpenSSL_XN_FLAG_RFC2253) >= 0 else {
            // A name OpenSSL cannot print is shown as empty; the fingerprint still identifies the certificate.
            _ = TLSError.drainOpenSSLErrors()
            return ""
        }
        return bio.string
    }

    /// Every CN value of a name as UTF-8 bytes (`ASN1_STRING_to_UTF8` with its length, so NULs survive).
    static func commonNames(of name: OpaquePointer?) -> [[UInt8]] {
        guard let name else { return [] }
        var result: [[UInt8]] = []
        for index in 0..<X509_NAME_entry_count(name) {
            guard let entry = X509_NAME_get_entry(name, index),
                OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry)) == NID_commonName,
                let data = X509_NAME_ENTRY_get_data(entry)
            else { continue }
            var utf8: UnsafeMutablePointer<UInt8>? = nil
            let length = ASN1_STRING_to_UTF8(&utf8, data)
            guard length >= 0, let utf8 else {
                // Not convertible to UTF-8: keep a placeholder so the CN still counts (and cannot match).
                _ = TLSError.drainOpenSSLErrors()
                result.append([0])
                continue
            }
            result.append(Array(UnsafeBufferPointer(start: utf8, count: Int(length))))
            COpenSSL_OPENSSL_free(utf8)
        }
        return result
    }

    /// Upper-case hex of a serial number as `i2a_ASN1_INTEGER` (and so `openssl x509 -serial`) prints it.
    static func serialHex(_ serial: UnsafePointer<ASN1_INTEGER>?) -> String {
        guard let serial else { return "00" }
        let length = Int(ASN1_STRING_length(serial))
        guard length > 0, let data = ASN1_STRING_get0_data(serial) else { return "00" }
        let hex = Hex.string(UnsafeBufferPointer(start: data, count: length), uppercase: true)
        return ASN1_STRING_type(serial) == COpenSSL_V_ASN1_NEG_INTEGER ? "-" + hex : hex
    }

    /// SHA-256 of a certificate's DER encoding as lower-case hex.
    static func sha256Hex(of x509: OpaquePointer) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = digest.withUnsafeMutableBufferPointer { X509_digest(x509, EVP_sha256(), $0.baseAddress, &length) }
        guard ok == 1 else {
            _ = TLSError.drainOpenSSLErrors()
            return ""
        }
        return Hex.string(digest.prefix(Int(length)))
    }

    /// An ASN1_TIME as unix seconds (0 if unparsable).
    static func unixTime(_ time: UnsafePointer<ASN1_TIME>?) -> Int64 {
        guard let time else { return 0 }
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else {
            _ = TLSError.drainOpenSSLErrors()
            return 0
        }
        return Int64(timegm(&parts))
    }
}
