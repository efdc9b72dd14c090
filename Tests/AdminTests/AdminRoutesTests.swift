import Admin
import HTTP1
import Testing

/// The admin port's pure parts: which answer for which request, and when the receiver is ready.
@Suite("Admin routes and readiness")
struct AdminRoutesTests {
    // MARK: - Routes

    private func answer(_ method: String, _ path: String, _ readiness: Readiness.Status = .ready) -> HTTPResponse {
        AdminRoutes.response(method: method, path: path, readiness: { readiness }, metrics: { Array("m 1\n".utf8) })
    }

    @Test func routesAnswerHealthReadinessMetricsAndRefuseTheRest() {
        #expect(answer("GET", "/healthz").status == 200)
        #expect(answer("GET", "/healthz").body == Array(#"{"status":"alive"}"#.utf8))
        #expect(answer("GET", "/readyz").body == Array(#"{"status":"ready"}"#.utf8))
        let down = answer("GET", "/readyz", .unavailable(#"database unreachable: "quoted""#))
        #expect(down.status == 503)
        #expect(
            down.body == Array(#"{"status":"unavailable","reason":"database unreachable: \"quoted\""}"#.utf8))
        let metrics = answer("GET", "/metrics")
        #expect(metrics.status == 200)
        #expect(
            metrics.headers.first { $0.name == "Content-Type" }?.value.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(answer("GET", "/").status == 404)
        #expect(answer("GET", "/metrics/").status == 404)
        let post = answer("POST", "/metrics")
        #expect(post.status == 405)
        #expect(post.headers.contains(HTTPHeader(name: "Allow", value: "GET")))
    }

    // MARK: - Readiness

    @Test func readinessNeedsTLSAndARecentDatabaseAnswer() {
        let readiness = Readiness()
        let start = ContinuousClock.now
        #expect(readiness.status(at: start) == .unavailable("TLS context not loaded"))
        readiness.markTLSLoaded()
        #expect(readiness.status(at: start) == .unavailable("database unreachable: not checked yet"))
        readiness.databaseAnswered(at: start)
        #expect(readiness.status(at: start + .seconds(1)) == .ready)
        #expect(readiness.status(at: start + .seconds(3)) == .unavailable("database unreachable: no answer for 3 s"))
        readiness.databaseFailed("connection refused")
        #expect(readiness.status(at: start) == .unavailable("database unreachable: connection refused"))
        readiness.databaseAnswered(at: start)
        #expect(readiness.status(at: start) == .ready)
        readiness.markStopping()
        #expect(readiness.status(at: start) == .unavailable("shutting down"))
    }
}
