import Receiver
import Testing

/// Per-client limits without clocks or sockets.
@Suite("Client throttle")
struct ThrottleTests {
    @Test func aBucketAllowsItsBurstThenOneRequestPerIntervalAndSaysHowLongToWait() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(burst: 2, now: start)
        #expect(bucket.take(rate: 2, burst: 2, now: start) == nil)
        #expect(bucket.take(rate: 2, burst: 2, now: start) == nil)
        let wait = bucket.take(rate: 2, burst: 2, now: start)
        #expect(wait != nil && wait! > .milliseconds(490) && wait! <= .milliseconds(500))
        #expect(bucket.take(rate: 2, burst: 2, now: start + .milliseconds(500)) == nil)
        // Refill never exceeds the burst, however long the client was quiet.
        #expect(bucket.take(rate: 2, burst: 2, now: start + .seconds(3600)) == nil)
        #expect(bucket.take(rate: 2, burst: 2, now: start + .seconds(3600)) == nil)
        #expect(bucket.take(rate: 2, burst: 2, now: start + .seconds(3600)) != nil)
    }

    @Test func connectionsAreCountedPerClientAndReleased() {
        let throttle = ClientThrottle()
        #expect(throttle.admitConnection("a", limit: 2) && throttle.admitConnection("a", limit: 2))
        #expect(!throttle.admitConnection("a", limit: 2))
        #expect(throttle.admitConnection("b", limit: 2))  // another client is not affected
        throttle.releaseConnection("a")
        #expect(throttle.openConnections("a") == 1)
        #expect(throttle.admitConnection("a", limit: 2))
    }

    @Test func aRateLimitedClientIsToldWholeSecondsToWait() {
        let throttle = ClientThrottle()
        let now = ContinuousClock.now
        #expect(throttle.admitRequest("a", rate: 0.1, burst: 1, now: now) == nil)
        #expect(throttle.admitRequest("a", rate: 0.1, burst: 1, now: now) == .rateLimited(retryAfterSeconds: 10))
        #expect(throttle.admitRequest("b", rate: 0.1, burst: 1, now: now) == nil)
    }
}
