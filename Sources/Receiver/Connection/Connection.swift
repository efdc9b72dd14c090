import HTTP1
import Logging
import Posix
import TLS

/// One accepted TCP connection: TLS handshake, then HTTP/1.1 requests, each authorized and handed to
/// the delivery writer, answered in order. Belongs to one `Worker` (one loop thread) for its whole
/// life; nothing else touches its socket or SSL object.
///
/// A thin I/O shell: what to answer is decided by `HeadDecision`, `Answer` and `ConnectionDeadline`
/// (pure, unit-tested); this type reads, writes, watches epoll interest and records what happened.
///
/// States: handshaking → reading ⇄ awaitingCommit → (lingering) → closed.
final class Connection: EventHandler {
    enum State: Equatable {
        case handshaking
        case reading
        /// A delivery was handed to the writer; nothing is read until its outcome arrives. `claim` lets the
        /// connection withdraw it while no writer has taken it.
        case awaitingCommit(clientID: String, keepAlive: Bool, claim: TicketClaim)
        case lingering
        case closed
    }

    /// A request whose head was accepted and whose body is being read (or drained after an early answer).
    struct InFlight {
        var head: HTTPRequestHead
        var endpoint: String
        var clientID: String
        var idempotencyKey: String?
        /// The client's signature check, from the grant that authorized the head; nil: none (no cost).
        var signature: SignatureRequirement?
        var body: [UInt8] = []
        /// An answer was already queued (404/405): the body is read only to keep the connection.
        var discarding: Bool
        var discardedBytes = 0
        var discardDeadline: ContinuousClock.Instant?
    }

    /// The request being answered, from its head to its answer: for `request_seconds`, the
    /// `requests_total` endpoint label and the `--log-requests` line. Never holds a body or header value.
    struct RequestRecord {
        var startedAt: ContinuousClock.Instant
        var method: String
        var path: String
        /// The endpoint the client was authorized for; "" until then (a label from the network is
        /// bounded only once authorization vouched for it).
        var endpoint = ""
        /// The `requests_total` label: the endpoint only when the client was granted it by name (a `*`
        /// grant would let one client mint unbounded series), else `*`; "" before authorization.
        var metricsEndpoint = ""
        var clientID: String?
        var bodyBytes = 0
    }

    let id: UInt64
    let remote: SocketAddress
    let socket: Socket
    var tls: TLSConnection?
    unowned let worker: Worker
    var state: State = .handshaking
    var parser = HTTPRequestParser()
    /// Re-entrancy guard: an answer flushed while parsing must not start the next request early.
    private var parsing = false
    var output = PendingWrites()
    /// The queued answer is the last: linger and close once it is written.
    var closeWhenFlushed = false
    var interest: EpollEvents = .readable
    var deadline: ContinuousClock.Instant
    var deadlineKind: DeadlineKind = .handshake
    var inFlight: InFlight?
    /// Body bytes this connection holds against `--max-buffered-bytes` (released with the answer).
    var heldBytes = 0
    /// Reading stopped because the body budget is spent; the worker's sweep resumes it.
    var isPausedForBudget = false
    /// `--body-deadline`: when the body being read must be complete.
    var bodyDeadlineAt: ContinuousClock.Instant?
    /// The client this connection is counted for against its `max_connections` (from its first request).
    var countedClient: ClientKey?
    /// That client's body bytes against `--client-max-buffered-bytes` (set with `countedClient`).
    var clientShare: ReceiverBudgets.ClientShare?
    /// The registry row the current request was authorized by (read once per request).
    var authorizedGrant: ClientGrant?
    var record: RequestRecord?
    var requestCount = 0
    var peer: PeerCertificate?
    private var tlsVersion = ""
    private var tlsCipher = ""
    /// The TLS context this connection's client certificate was last verified against (its own at the
    /// handshake; a newer one after a reload re-verified it). Held strongly so a freed context's address
    /// can never be mistaken for it.
    var verifiedContext: TLSContext?

    init(id: UInt64, socket: Socket, tls: TLSConnection, remote: SocketAddress, worker: Worker) {
        self.id = id
        self.socket = socket
        self.tls = tls
        self.remote = remote
        self.worker = worker
        self.deadline = worker.loop.now + worker.configuration.handshakeTimeout
    }

    var fileDescriptor: Int32 { socket.fileDescriptor }

    var isAwaitingCommit: Bool {
        if case .awaitingCommit = state { return true }
        return false
    }

    /// True when nothing of a request has arrived: closing it now loses nothing (SIGTERM closes these).
    var isIdle: Bool {
        switch state {
        case .handshaking: return true
        case .reading: return inFlight == nil && parser.bufferedByteCount == 0 && output.isEmpty
        case .awaitingCommit, .lingering, .closed: return false
        }
    }

    /// What the deadline rules need to know.
    private var situation: DeadlineSituation {
        DeadlineSituation(
            body: inFlight.map { $0.discarding ? .discarding : .reading } ?? .none,
            bufferedBytes: parser.bufferedByteCount, requestCount: requestCount, awaitingCommit: isAwaitingCommit,
            pausedForBudget: isPausedForBudget)
    }

    // MARK: - Events

    func handle(_ events: EpollEvents) {
        switch state {
        case .handshaking:
            // Still readable next iteration (level-triggered), after the established connections had theirs.
            guard worker.takeHandshakeStep() else { return }
            driveHandshake()
        case .awaitingCommit:
            // Nothing is read while the commit is pending; a reset or hang-up means nobody will read the
            // answer (the row still commits; the completion is dropped by id).
            if events.contains(.error) || events.contains(.hangup) { return close() }
            if events.contains(.readable) { setInterest(interest.subtracting(.readable)) }
            if events.contains(.writable) { flush() }
        case .reading:
            // A paused connection reads nothing, so an error or hang-up would be reported again at once.
            if isPausedForBudget && (events.contains(.error) || events.contains(.hangup)) { return close() }
            if events.contains(.writable) || !output.isEmpty { flush() }
            // Also after a writable event: SSL_read may have asked for one (TLS 1.3 key update).
            if state == .reading { readAvailable() }
        case .lingering:
            drainLinger()
        case .closed:
            break
        }
    }

    /// Called by the worker's sweep when `deadline` passed.
    func deadlineExpired() {
        switch ConnectionDeadline.expired(deadlineKind, situation) {
        case .handshakeTimedOut:
            worker.statistics.recordHandshakeTimeout()
            close()
        case .close:
            close()
        case .endAfterAnswer:
            inFlight = nil
            closeAfterAnswer()
        case .answer(let answer):
            if case .awaitingCommit(_, _, let claim) = state {
                // "Not stored" is only true when the delivery is withdrawn before a writer took it. A taken
                // one is in a statement bounded by the writer's statement timeout: wait for its outcome.
                guard claim.withdraw() else {
                    setDeadline(.commitOverdue, worker.configuration.commitTimeout + .seconds(30))
                    return
                }
                state = .reading
                worker.statistics.recordOutcome(.unavailable)
            }
            inFlight = nil
            send(answer, keepAlive: false)
        }
    }

    // MARK: - Handshake

    private func driveHandshake() {
        guard let tls else { return close() }
        switch tls.handshake() {
        case .complete:
            worker.statistics.recordHandshakeAccepted()
            peer = tls.peerCertificate
            tlsVersion = tls.protocolVersion
            tlsCipher = tls.cipherName
            verifiedContext = tls.context
            state = .reading
            setDeadline(.header, worker.configuration.headerTimeout)
            setInterest(.readable)
            readAvailable()
        case .wantRead:
            setInterest(.readable)
        case .wantWrite:
            setInterest(.writable)
        case .failed(let failure):
            worker.statistics.recordHandshakeRefused(reason: failure.reason.code)
            // Plain HTTP on the TLS port and other garbage are counted, not stored (SPEC).
            let presentedNothing = failure.reason == .handshakeFailed && failure.peerCertificate == nil
            if presentedNothing {
                worker.rejections.countAnonymousFailure(reason: failure.reason)
            } else {
                worker.rejections.record(
                    Rejection(
                        stage: .handshake, reason: failure.reason, detail: failure.detail,
                        remoteAddress: remote.host, certificate: failure.peerCertificate))
            }
            // OpenSSL already sent the alert; close gently so the peer can read it (TLS 1.3 clients
            // see it on their first read, and a reset would destroy it).
            self.tls = nil
            beginLinger()
        }
    }

    // MARK: - Reading and parsing

    func readAvailable() {
        guard let tls else { return close() }
        var progressed = false
        // Backpressure: while an answer is still being written (a client not reading), read nothing more.
        readLoop: while state == .reading && output.isEmpty && !closeWhenFlushed {
            // A body being stored may only grow while the process-wide budget and the client's share of
            // it have room: otherwise stop reading (TCP backpressure) until the sweep sees room again.
            var limit = worker.readBuffer.count
            if inFlight?.discarding != true {  // between requests too: a read may carry a pipelined body
                limit = min(limit, worker.shared.budgets.room(for: clientShare))
                // Crumbs of room would let every waiting body trickle on, each resetting its timeout.
                if limit < ReceiverBudgets.minimumRead {
                    isPausedForBudget = true
                    setInterest(output.isEmpty ? EpollEvents() : .writable)
                    break readLoop
                }
            }
            let status = worker.readBuffer.withUnsafeMutableBytes {
                tls.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<limit]))
            }
            switch status {
            case .bytes(let count):
                progressed = true
                worker.readBuffer.withUnsafeBytes { parser.append(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                // Parse as we go so a large body is never buffered twice.
                processParser()
            case .wantRead:
                break readLoop
            case .wantWrite:
                setInterest(.writable)
                break readLoop
            case .closed, .failed:
                // The peer went away (or broke TLS): nothing can be answered any more.
                close()
                return
            }
        }
        // The body timeout is a progress timeout: any bytes of a body being stored restart it.
        if progressed, state == .reading, deadlineKind == .body, inFlight?.discarding != true {
            armBodyDeadline()
        }
    }

    /// Runs parser events until it needs more bytes, a request is handed to the writer, or the
    /// connection is closing.
    func processParser() {
        guard !parsing else { return }
        parsing = true
        defer { parsing = false }
        while state == .reading && !closeWhenFlushed {
            let event: HTTPParserEvent?
            do {
                event = try parser.next()
            } catch {
                inFlight = nil
                send(.malformed(error), keepAlive: false)
                return
            }
            guard let event else {
                armWaitingDeadline()
                return
            }
            switch event {
            case .head(let head): handleHead(head)
            case .body(let bytes): handleBody(bytes)
            case .end: handleEnd()
            }
        }
    }

    private func armWaitingDeadline() {
        switch ConnectionDeadline.whileWaiting(situation, current: deadlineKind) {
        case .discard?:
            if let limit = inFlight?.discardDeadline {
                deadlineKind = .discard
                deadline = limit
            }
        case .body?: armBodyDeadline()
        case .header?: setDeadline(.header, worker.configuration.headerTimeout)
        case .idle?: setDeadline(.idle, worker.configuration.idleTimeout)
        case nil, .handshake?, .write?, .linger?, .commit?, .commitOverdue?: break
        }
    }

    private func handleHead(_ head: HTTPRequestHead) {
        requestCount += 1
        record = RequestRecord(startedAt: worker.loop.now, method: head.method, path: head.path)
        let configuration = worker.configuration
        let decision = HeadDecision.decide(
            head, maxBodyBytes: configuration.maxBodyBytes, maxDrainBytes: configuration.maxDrainBytes,
            bufferedBytes: parser.bufferedByteCount, authorize: authorize)
        switch decision {
        case .answerEarly(let answer, let keepAlive):
            // 404/405: answer now; keep the connection only if the rest of the body drains (≤ 1 s).
            send(answer, keepAlive: keepAlive)
            drainBody(of: head, keepAlive: keepAlive)
        case .refuse(let reason, let detail, let endpoint):
            worker.rejections.record(
                Rejection(
                    stage: .authorization, reason: reason, detail: detail, remoteAddress: remote.host,
                    // No identity (no CN, two CNs) leaves client_id NULL: the reason code says why.
                    clientID: peer.flatMap { try? $0.identity.get() }, endpoint: endpoint, certificate: peer))
            // SPEC: after a 403 the connection closes; the body is never read, let alone stored.
            send(.forbidden(reason), keepAlive: false)
        case .throttle(let throttle, let endpoint, let clientID, let keepAlive):
            noteAuthorized(endpoint: endpoint, clientID: clientID)
            let reason: RefusalReason = throttle == .tooManyConnections ? .tooManyConnections : .rateLimited
            worker.statistics.recordThrottled(client: clientID, reason: reason.code)
            worker.rejections.record(
                Rejection(
                    stage: .authorization, reason: reason, detail: Self.throttleDetail(throttle),
                    remoteAddress: remote.host, clientID: clientID, endpoint: endpoint, certificate: peer))
            send(.throttled(throttle), keepAlive: keepAlive)
            drainBody(of: head, keepAlive: keepAlive)
        case .registryUnavailable(let endpoint):
            record?.endpoint = endpoint
            worker.statistics.recordRegistryUnavailable()
            send(.registryUnavailable, keepAlive: false)
        case .reject(let answer, let endpoint, let clientID):
            noteAuthorized(endpoint: endpoint, clientID: clientID)
            if case .badBytes(let problem) = answer { logRefusal(problem, clientID: clientID) }
            send(answer, keepAlive: false)
        case .accept(let endpoint, let clientID, let idempotencyKey, let sendContinue):
            noteAuthorized(endpoint: endpoint, clientID: clientID)
            var flight = InFlight(
                head: head, endpoint: endpoint, clientID: clientID, idempotencyKey: idempotencyKey, discarding: false)
            // Memory follows the bytes that arrived, not the length announced (a client may never send them).
            if case .contentLength(let length) = head.framing { flight.body.reserveCapacity(min(length, 16_384)) }
            flight.signature = authorizedGrant?.signature
            inFlight = flight
            if sendContinue { queue(HTTPResponse.continueBytes) }
            bodyDeadlineAt = worker.loop.now + configuration.bodyDeadline
            armBodyDeadline()
        }
    }

    /// After an answer given before the body was read (404, 405, 429): a connection that stays open reads
    /// the rest of the body and discards it (`keepAlive` already says it is ≤ 64 KiB), for at most 1 s.
    private func drainBody(of head: HTTPRequestHead, keepAlive: Bool) {
        guard keepAlive else { return }
        inFlight = InFlight(
            head: head, endpoint: "", clientID: "", discarding: true, discardDeadline: worker.loop.now + .seconds(1))
    }

    private func handleBody(_ bytes: [UInt8]) {
        guard var flight = inFlight else { return }
        inFlight = nil  // keep the buffer uniquely referenced while appending
        if flight.discarding {
            flight.discardedBytes += bytes.count
            inFlight = flight
            if flight.discardedBytes > worker.configuration.maxDrainBytes { closeAfterAnswer() }
            return
        }
        if flight.body.count + bytes.count > worker.configuration.maxBodyBytes {
            return send(.payloadTooLarge(limit: worker.configuration.maxBodyBytes), keepAlive: false)
        }
        flight.body.append(contentsOf: bytes)
        worker.shared.budgets.hold(bytes.count, for: clientShare)
        heldBytes += bytes.count
        inFlight = flight
    }

    private func handleEnd() {
        guard let flight = inFlight else { return }
        inFlight = nil
        if flight.discarding {
            // The early answer is already queued; carry on with the next request.
            if closeWhenFlushed { return }
            setDeadline(.idle, worker.configuration.idleTimeout)
            return
        }
        guard let peer else { return close() }
        record?.bodyBytes = flight.body.count
        var signatureStatus: SignatureStatus?
        if let requirement = flight.signature {
            // Issue 12: over the exact body bytes, once they have all arrived, before the writer sees them.
            let status = SignatureCheck.verify(
                requirement, head: flight.head, body: flight.body, now: worker.wallClockSeconds,
                toleranceSeconds: worker.configuration.signatureToleranceSeconds)
            if requirement.mode == .required, let reason = status.refusal {
                return refuseSignature(reason, flight: flight)
            }
            signatureStatus = status
        }
        var delivery = Delivery(
            head: flight.head, body: flight.body, endpoint: flight.endpoint, clientID: flight.clientID,
            idempotencyKey: flight.idempotencyKey, peer: peer,
            remoteHost: remote.host, tlsVersion: tlsVersion, tlsCipher: tlsCipher)
        delivery.signatureStatus = signatureStatus
        setDeadline(.commit, worker.configuration.commitTimeout)
        let claim = worker.submit(delivery, from: self)
        state = .awaitingCommit(clientID: flight.clientID, keepAlive: flight.head.keepAlive, claim: claim)
        updateInterest()
    }
}
