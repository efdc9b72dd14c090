import HTTP1
import Receiver
import TLS
import TestSupport
import Testing

/// `ReceiverStatistics` rendered through swift-prometheus, `AdminRoutes` and `Readiness`: the pure parts
/// of the admin listener.
@Suite("Metrics")
struct MetricsTests {
    private func samples(_ statistics: ReceiverStatistics, now: Int64 = 1_000) throws -> PrometheusSamples {
        try PrometheusSamples(parsing: String(decoding: statistics.render(now: now), as: UTF8.self))
    }

    @Test func recordedEventsAppearUnderTheSpecNames() throws {
        let statistics = ReceiverStatistics()
        statistics.recordHandshakeAccepted()
        statistics.recordHandshakeRefused(reason: "no_certificate")
        statistics.recordHandshakeRefused(reason: "no_certificate")
        statistics.recordHandshakeTimeout()
        statistics.recordRequest(status: 200, endpoint: "orders", duration: .milliseconds(3))
        statistics.recordRequest(status: 404)
        statistics.recordOutcome(.stored(id: "a"))
        statistics.recordOutcome(.duplicate(id: "a"))
        statistics.recordOutcome(.unavailable)
        statistics.recordCommit(batchSize: 5, duration: .milliseconds(2))
        statistics.recordDatabaseError()
        statistics.recordRejection(stored: true)
        statistics.recordRejection(stored: false)
        statistics.connectionOpened()
        statistics.connectionOpened()
        statistics.connectionClosed()

        let metrics = try samples(statistics)
        #expect(metrics.value("webhookd_handshakes_total", ["result": "accepted", "reason": "none"]) == 1)
        #expect(metrics.value("webhookd_handshakes_total", ["result": "refused", "reason": "no_certificate"]) == 2)
        #expect(metrics.value("webhookd_handshakes_total", ["result": "timeout", "reason": "handshake_timeout"]) == 1)
        #expect(metrics.value("webhookd_requests_total", ["status": "200", "endpoint": "orders"]) == 1)
        #expect(metrics.value("webhookd_requests_total", ["status": "404", "endpoint": ""]) == 1)
        #expect(metrics.value("webhookd_request_seconds_count") == 1)
        #expect(metrics.value("webhookd_request_seconds_bucket", ["le": "0.0025"]) == 0)
        #expect(metrics.value("webhookd_request_seconds_bucket", ["le": "0.005"]) == 1)
        #expect(metrics.value("webhookd_deliveries_committed_total") == 1)
        #expect(metrics.value("webhookd_duplicates_total") == 1)
        #expect(metrics.value("webhookd_commit_batch_size_count") == 1)
        #expect(metrics.value("webhookd_commit_batch_size_sum") == 5)
        #expect(metrics.value("webhookd_commit_batch_size_bucket", ["le": "4.0"]) == 0)
        #expect(metrics.value("webhookd_commit_batch_size_bucket", ["le": "8.0"]) == 1)
        #expect(metrics.value("webhookd_commit_seconds_count") == 1)
        #expect(metrics.value("webhookd_database_errors_total") == 1)
        #expect(metrics.value("webhookd_rejections_dropped_total") == 1)
        #expect(metrics.value("webhookd_open_connections") == 1)

        let totals = statistics.snapshot
        #expect(totals.handshakesRefused == 2)
        #expect(totals.requests == 2)
        #expect(totals.rejectionsStored == 1)
    }

    @Test func twoServersInOneProcessKeepSeparateSeries() throws {
        let first = ReceiverStatistics()
        let second = ReceiverStatistics()
        first.recordOutcome(.stored(id: "x"))
        #expect(try samples(first).value("webhookd_deliveries_committed_total") == 1)
        #expect(try samples(second).value("webhookd_deliveries_committed_total") == 0)
    }

    @Test func certificateExpiryIsSecondsUntilNotAfterAtScrapeTime() throws {
        let pki = TestPKI.shared
        let context = try TLSContext(
            configuration: TLSServerConfiguration(
                certificateChainPath: pki.serverCertificate, privateKeyPath: pki.serverKey,
                clientCAPath: pki.clientCABundle, crlPaths: [pki.rootCRLFresh]))
        let statistics = ReceiverStatistics()
        statistics.updateCertificateExpiry(context)
        let now: Int64 = 1_700_000_000
        let metrics = try samples(statistics, now: now)
        let server = context.serverCertificate
        #expect(
            metrics.value("webhookd_certificate_expiry_seconds", ["kind": "server", "subject": server.subject])
                == Double(server.notAfter - now))
        for authority in context.caCertificates {
            #expect(
                metrics.value("webhookd_certificate_expiry_seconds", ["kind": "ca", "subject": authority.subject])
                    == Double(authority.notAfter - now))
        }
        let crl = try #require(context.crls.first)
        let nextUpdate = try #require(crl.nextUpdate)
        #expect(
            metrics.value("webhookd_certificate_expiry_seconds", ["kind": "crl_next_update", "subject": crl.issuer])
                == Double(nextUpdate - now))
        // A later scrape sees a smaller value: the gauge is computed, not stored.
        let later = try samples(statistics, now: now + 60)
        #expect(
            later.value("webhookd_certificate_expiry_seconds", ["kind": "server", "subject": server.subject])
                == Double(server.notAfter - now - 60))
    }

    @Test func clientExpirySeriesFollowTheClientsTable() throws {
        let statistics = ReceiverStatistics()
        statistics.replaceClientCertificateExpiry(["acme": 2_000, "globex": 500])
        var metrics = try samples(statistics, now: 1_000)
        #expect(metrics.value("webhookd_client_certificate_expiry_seconds", ["client": "acme"]) == 1_000)
        #expect(metrics.value("webhookd_client_certificate_expiry_seconds", ["client": "globex"]) == -500)

        statistics.updateClientCertificateExpiry(["acme": 3_000])
        statistics.replaceClientCertificateExpiry(["acme": 3_000])  // globex was removed
        metrics = try samples(statistics, now: 1_000)
        #expect(metrics.value("webhookd_client_certificate_expiry_seconds", ["client": "acme"]) == 2_000)
        #expect(metrics.value("webhookd_client_certificate_expiry_seconds", ["client": "globex"]) == nil)
    }

    @Test func labelValuesAreEscapedInTheExposition() throws {
        let statistics = ReceiverStatistics()
        let odd = #"CN=a\"b,O=x\y"#
        statistics.replaceClientCertificateExpiry([ClientKey(odd): 10])
        #expect(
            try samples(statistics, now: 0).value("webhookd_client_certificate_expiry_seconds", ["client": odd]) == 10)
    }
}
