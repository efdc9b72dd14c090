import Glibc
package import Logging
package import TLS

/// Certificates and CRLs that need attention soon: logged at start, after each reload and every 12 hours
/// (issue: "expiry visibility").
package enum ExpiryReport {
    /// Items expiring within this window are reported.
    package static let window: Int64 = 30 * 86_400

    /// One line per server certificate, CA or CRL that expires (or must be re-signed) within the window.
    package static func warnings(for context: TLSContext, now: Int64) -> [String] {
        var lines: [String] = []
        func check(_ kind: String, _ name: String, _ deadline: Int64) {
            let left = deadline - now
            if left <= 0 {
                lines.append("\(kind) \(name) expired \(-left / 86_400) day(s) ago")
            } else if left <= window {
                lines.append("\(kind) \(name) expires in \(left / 86_400) day(s)")
            }
        }
        check("server certificate", context.serverCertificate.subject, context.serverCertificate.notAfter)
        for authority in context.caCertificates { check("client CA", authority.subject, authority.notAfter) }
        for crl in context.crls {
            if let next = crl.nextUpdate { check("CRL of", "\(crl.issuer) (\(crl.path)) next update", next) }
        }
        return lines
    }

    /// Logs `warnings(for:now:)`, one warning line each.
    package static func log(_ context: TLSContext, logger: Logger) {
        for line in warnings(for: context, now: Int64(time(nil))) {
            logger.warning("certificate expiry", metadata: ["detail": "\(line)"])
        }
    }
}
