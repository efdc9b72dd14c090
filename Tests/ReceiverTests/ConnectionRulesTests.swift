import HTTP1
import Receiver
import TLS
import Testing

/// The connection's decisions, without sockets: which answer for which head, what each answer says,
/// and which deadline runs when.
@Suite("Connection rules")
struct ConnectionRulesTests {
    static func head(
        _ method: String = "POST", _ target: String = "/webhooks/orders", framing: BodyFraming = .contentLength(10),
        keepAlive: Bool = true, expectsContinue: Bool = false, headers: [HTTPHeader] = []
    ) -> HTTPRequestHead {
        HTTPRequestHead(
            method: method, target: target, version: .http11, headers: headers, framing: framing, keepAlive: keepAlive,
            expectsContinue: expectsContinue)
    }

    /// Decides with an authorizer that records whether it was asked.
    static func decide(
        _ head: HTTPRequestHead, buffered: Int = 0, authorize: Authorization = .granted("acme")
    ) -> (HeadDecision, asked: [String]) {
        var asked: [String] = []
        let decision = HeadDecision.decide(
            head, maxBodyBytes: 1_000, maxDrainBytes: 100, bufferedBytes: buffered
        ) { endpoint in
            asked.append(endpoint)
            return authorize
        }
        return (decision, asked)
    }

    // MARK: - Head decisions, in SPEC order 404 → 405 → 403 → 411/413

    @Test(arguments: [
        "/", "/webhook/orders", "/webhooks/", "/webhooks/a/b", "/webhooks/%41",
        "/webhooks/" + String(repeating: "a", count: 65),
    ])
    func pathsOutsideTheWebhookTreeAre404BeforeAuthorization(_ target: String) {
        let (decision, asked) = Self.decide(Self.head("POST", target))
        #expect(decision == .answerEarly(.notFound, keepAlive: true))
        #expect(asked.isEmpty)
    }

    @Test func aWrongMethodIs405BeforeAuthorizationAnd404BeatsIt() {
        let (decision, asked) = Self.decide(Self.head("GET"))
        #expect(decision == .answerEarly(.methodNotAllowed, keepAlive: true))
        #expect(asked.isEmpty)
        #expect(Self.decide(Self.head("GET", "/nope")).0 == .answerEarly(.notFound, keepAlive: true))
    }

    @Test func earlyAnswersKeepTheConnectionOnlyWhenTheBodyCanDrain() {
        #expect(
            Self.decide(Self.head("GET", framing: .contentLength(101))).0
                == .answerEarly(.methodNotAllowed, keepAlive: false))
        #expect(Self.decide(Self.head("GET", framing: .chunked)).0 == .answerEarly(.methodNotAllowed, keepAlive: true))
        #expect(Self.decide(Self.head("HEAD")).0 == .answerEarly(.methodNotAllowed, keepAlive: false))
        #expect(
            Self.decide(Self.head("PUT", expectsContinue: true)).0 == .answerEarly(.methodNotAllowed, keepAlive: false))
        #expect(Self.decide(Self.head("GET", keepAlive: false)).0 == .answerEarly(.methodNotAllowed, keepAlive: false))
    }

    @Test func aRefusalIs403WithItsReasonBeforeFramingIsLookedAt() {
        let refusal = Refusal(reason: .endpointNotGranted, detail: "not granted")
        let (decision, asked) = Self.decide(Self.head(framing: .none), authorize: .refused(refusal))
        #expect(decision == .refuse(.endpointNotGranted, detail: "not granted", endpoint: "orders"))
        #expect(asked == ["orders"])
    }

    @Test func aStaleRegistryIs503ForEveryoneBeforeFraming() {
        let (decision, asked) = Self.decide(Self.head(framing: .none), authorize: .registryUnavailable)
        #expect(decision == .registryUnavailable(endpoint: "orders"))
        #expect(asked == ["orders"])
        #expect(Answer.registryUnavailable.response.status == 503)
        #expect(Self.header(.registryUnavailable, "Retry-After") == "5")
        #expect(Self.text(.registryUnavailable).contains(#""error":"registry_unavailable""#))
    }

    @Test func badBytesAre400AfterFraming() {
        let bad = Self.head(headers: [HTTPHeader(name: "webhook-id", value: String(repeating: "k", count: 2_000))])
        guard case .reject(.badBytes(.invalidKey(header: "webhook-id", _)), "orders", "acme") = Self.decide(bad).0
        else {
            Issue.record("an oversized key was not refused: \(Self.decide(bad).0)")
            return
        }
        #expect(Answer.badBytes(.invalidKey(header: "webhook-id", why: "x")).response.status == 400)
        let keyed = Self.head(headers: [HTTPHeader(name: "X-GitHub-Delivery", value: "gh-1")])
        #expect(
            Self.decide(keyed).0
                == .accept(endpoint: "orders", clientID: "acme", idempotencyKey: "gh-1", sendContinue: false))
    }

    @Test func framingIsCheckedAfterAuthorization() {
        #expect(
            Self.decide(Self.head(framing: .none)).0 == .reject(.lengthRequired, endpoint: "orders", clientID: "acme"))
        #expect(
            Self.decide(Self.head(framing: .contentLength(1_001))).0
                == .reject(.payloadTooLarge(limit: 1_000), endpoint: "orders", clientID: "acme"))
        #expect(
            Self.decide(Self.head(framing: .contentLength(1_000))).0
                == .accept(endpoint: "orders", clientID: "acme", idempotencyKey: nil, sendContinue: false))
        #expect(
            Self.decide(Self.head(framing: .chunked)).0
                == .accept(endpoint: "orders", clientID: "acme", idempotencyKey: nil, sendContinue: false))
    }

    @Test func continueIsSentOnlyWhenAskedAndTheBodyIsNotAlreadyHere() {
        #expect(
            Self.decide(Self.head(expectsContinue: true)).0
                == .accept(endpoint: "orders", clientID: "acme", idempotencyKey: nil, sendContinue: true))
        #expect(
            Self.decide(Self.head(expectsContinue: true), buffered: 3).0
                == .accept(endpoint: "orders", clientID: "acme", idempotencyKey: nil, sendContinue: false))
    }

    // MARK: - Answers

    static func text(_ answer: Answer) -> String { String(decoding: answer.response.body, as: UTF8.self) }
    static func header(_ answer: Answer, _ name: String) -> String? {
        answer.response.headers.first { $0.name == name }?.value
    }

    @Test func everyOutcomeHasItsStatusCodeAndBodyAndNoneIs500() throws {
        #expect(try #require(Answer(.stored(id: "a"))).response.status == 200)
        #expect(Self.text(try #require(Answer(.stored(id: "a")))) == #"{"delivery_id":"a","duplicate":false}"#)
        #expect(Self.text(try #require(Answer(.duplicate(id: "b")))) == #"{"delivery_id":"b","duplicate":true}"#)
        // Data the database refuses even alone is not retryable: 400, not 500.
        #expect(try #require(Answer(.refused)).response.status == 400)
        #expect(Self.text(try #require(Answer(.refused))).contains(#""error":"delivery_refused""#))
        // An unknown commit outcome has no true answer: the connection closes without one.
        #expect(Answer(.unknown) == nil)
        #expect(Self.text(.forbidden(.pinMismatch)).contains(#""error":"pin_mismatch""#))
        #expect(Answer.forbidden(.pinMismatch).response.status == 403)
        #expect(Answer.notFound.response.status == 404)
        #expect(Self.header(.methodNotAllowed, "Allow") == "POST")
        #expect(Answer.lengthRequired.response.status == 411)
        #expect(Self.text(.payloadTooLarge(limit: 7)).contains("larger than 7 bytes"))
        #expect(Answer.requestTimeout.response.status == 408)
    }

    @Test func every503SaysRetryAfterAndNothingElseDoes() throws {
        for answer in [try #require(Answer(.unavailable)), .shuttingDown, .registryUnavailable] {
            #expect(answer.response.status == 503)
            #expect(Self.header(answer, "Retry-After") == "5")
        }
        #expect(Self.text(try #require(Answer(.unavailable))).contains(#""error":"database_unavailable""#))
        #expect(Self.text(.shuttingDown).contains(#""error":"shutting_down""#))
        for answer in [
            Answer.stored(id: "x"), .notFound, .forbidden(.unknownClient), .deliveryRefused, .requestTimeout,
        ] {
            #expect(Self.header(answer, "Retry-After") == nil)
        }
    }

    // MARK: - Deadlines

    static func situation(
        _ body: DeadlineSituation.Body = .none, buffered: Int = 0, requests: Int = 1, awaiting: Bool = false
    ) -> DeadlineSituation {
        DeadlineSituation(body: body, bufferedBytes: buffered, requestCount: requests, awaitingCommit: awaiting)
    }

    @Test func waitingArmsBodyThenHeaderThenIdleAndKeepsARunningOne() {
        #expect(ConnectionDeadline.whileWaiting(Self.situation(.reading), current: .header) == .body)
        #expect(ConnectionDeadline.whileWaiting(Self.situation(.reading), current: .body) == nil)
        #expect(ConnectionDeadline.whileWaiting(Self.situation(.discarding), current: .discard) == .discard)
        #expect(ConnectionDeadline.whileWaiting(Self.situation(buffered: 5), current: .idle) == .header)
        // A head trickling in does not restart its header deadline.
        #expect(ConnectionDeadline.whileWaiting(Self.situation(buffered: 5), current: .header) == nil)
        #expect(ConnectionDeadline.whileWaiting(Self.situation(), current: .body) == .idle)
        #expect(ConnectionDeadline.whileWaiting(Self.situation(requests: 0), current: .header) == nil)
    }

    @Test func expiryClosesQuietlyWhenNothingWasSentAndAnswersOtherwise() {
        #expect(ConnectionDeadline.expired(.header, Self.situation()) == .close)
        #expect(ConnectionDeadline.expired(.header, Self.situation(buffered: 1)) == .answer(.requestTimeout))
        #expect(ConnectionDeadline.expired(.body, Self.situation(.reading)) == .answer(.requestTimeout))
        #expect(ConnectionDeadline.expired(.handshake, Self.situation()) == .handshakeTimedOut)
        #expect(ConnectionDeadline.expired(.discard, Self.situation(.discarding)) == .endAfterAnswer)
        #expect(ConnectionDeadline.expired(.idle, Self.situation()) == .close)
        #expect(ConnectionDeadline.expired(.commit, Self.situation(awaiting: true)) == .answer(.databaseUnavailable))
        #expect(ConnectionDeadline.expired(.commit, Self.situation()) == .close)
        #expect(ConnectionDeadline.expired(.commitOverdue, Self.situation(awaiting: true)) == .close)
        // A body that could not be read because the body budget was held: "not stored, retry later".
        var paused = Self.situation(.reading)
        paused.pausedForBudget = true
        #expect(ConnectionDeadline.expired(.body, paused) == .answer(.overCapacity))
    }

    // MARK: - Budgets

    @Test func aClientsShareBoundsItsBodiesWhileOthersKeepTheRest() {
        let budgets = ReceiverBudgets(maxConnections: 10, maxBufferedBytes: 100, clientMaxBufferedBytes: 40)
        let stalled = budgets.share(for: ClientKey("stalled"))
        #expect(budgets.share(for: ClientKey("stalled")) === stalled)  // one counter for all its connections
        let other = budgets.share(for: ClientKey("other"))
        budgets.hold(30, for: stalled)
        budgets.hold(30, for: stalled)  // two connections read at once: overshoot, never negative room
        #expect(budgets.room(for: stalled) == 0)
        #expect(budgets.room(for: other) == 40)  // its own share, within what is left in all (40)
        #expect(budgets.room == 40)
        budgets.hold(30, for: other)
        #expect(budgets.room(for: other) == 10)
        // A queued delivery keeps its client's bytes held until its ticket goes.
        var hold: ReceiverBudgets.Hold? = ReceiverBudgets.Hold(60, of: budgets, for: stalled)
        _ = hold
        #expect(budgets.room(for: stalled) == 0)
        hold = nil
        #expect(stalled.heldBytes == 0 && budgets.room(for: stalled) == 40)
        budgets.release(30, for: other)
        #expect(budgets.room == 100 && other.heldBytes == 0)
    }

    @Test func budgetsCountConnectionsAndHeldBytes() {
        let budgets = ReceiverBudgets(maxConnections: 2, maxBufferedBytes: 100)
        #expect(budgets.openConnection() && budgets.openConnection())
        #expect(!budgets.openConnection())
        budgets.closeConnection()
        #expect(budgets.openConnection())
        #expect(budgets.openConnections == 2)
        budgets.hold(70, for: nil)
        #expect(budgets.room == 30)
        budgets.hold(50, for: nil)  // concurrent reads may overshoot a little; room never goes negative
        #expect(budgets.room == 0)
        budgets.release(120, for: nil)
        #expect(budgets.room == 100)
        // A body handed to the writer stays held until the last copy of its ticket is gone.
        budgets.hold(40, for: nil)
        var hold: ReceiverBudgets.Hold? = ReceiverBudgets.Hold(40, of: budgets, for: nil)
        #expect(budgets.room == 60)
        _ = hold
        hold = nil
        #expect(budgets.room == 100)
        #expect(Answer.overCapacity.response.status == 503)
        #expect(Self.header(.overCapacity, "Retry-After") == "5")
    }
}
