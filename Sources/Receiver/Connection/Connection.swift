import HTTP1
import Logging
import Posix
import TLS

/// One accepted TCP connection: TLS handshake, then HTTP/1.1 requests, each authorized and handed to
/// the delivery writer, answered in order. Belongs to one `Worker` (one loop thread) for its whole
/// life; nothing else touches its socket or SSL object.
///
/// States: handshaking → reading ⇄ awaitingCommit → (lingering) → closed.
final class Connection: EventHandler {
    enum State {
        case handshaking
        case reading
        case awaitingCommit
        case lingering
        case closed
    }

    /// What the deadline currently guards.
    enum DeadlineKind {
        case handshake, header, idle, body, write, linger
        /// 404/405 answered: the rest of the body may drain until this (≤ 1 s), then the connection closes.
        case discard
        /// A delivery waits for its commit; past this the client gets 503 (a late commit is still no 2xx).
        case commit
    }

    /// A request whose head was accepted and whose body is being read (or drained after an early answer).
    struct InFlight {
        var head: HTTPRequestHead
        var endpoint: String
        var clientID: String
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
        var clientID: String?
        var bodyBytes = 0
    }

    let id: UInt64
    let remote: SocketAddress
    private let socket: Socket
    private var tls: TLSConnection?
    private unowned let worker: Worker
    private(set) var state: State = .handshaking
    private var parser: HTTPRequestParser
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var closeWhenFlushed = false
    private var interest: EpollEvents = .readable
    private(set) var deadline: ContinuousClock.Instant
    private(set) var deadlineKind: DeadlineKind = .handshake
    private var inFlight: InFlight?
    private var record: RequestRecord?
    private var requestCount = 0
    private var peer: PeerCertificate?
    private var tlsVersion = ""
    private var tlsCipher = ""
    /// The TLS context this connection's client certificate was last verified against (its own at the
    /// handshake; a newer one after a reload re-verified it).
    /// Held strongly so a freed context's address can never be mistaken for it.
    private var verifiedContext: TLSContext?

    init(id: UInt64, socket: Socket, tls: TLSConnection, remote: SocketAddress, worker: Worker) {
        self.id = id
        self.socket = socket
        self.tls = tls
        self.remote = remote
        self.worker = worker
        self.parser = HTTPRequestParser()
        self.deadline = worker.loop.now + worker.configuration.handshakeTimeout
    }

    var fileDescriptor: Int32 { socket.fileDescriptor }

    /// True when nothing of a request has arrived: closing it now loses nothing (SIGTERM closes these).
    var isIdle: Bool {
        switch state {
        case .handshaking: return true
        case .reading: return inFlight == nil && parser.bufferedByteCount == 0 && outputOffset >= output.count
        case .awaitingCommit, .lingering, .closed: return false
        }
    }

    // MARK: - Events

    func handle(_ events: EpollEvents) {
        switch state {
        case .handshaking:
            driveHandshake()
        case .awaitingCommit:
            // Nothing is read while the commit is pending; a reset or hang-up means nobody will read the
            // answer (the row still commits; the completion is dropped by id).
            if events.contains(.error) || events.contains(.hangup) { return close() }
            if events.contains(.writable) { flush() }
        case .reading:
            if events.contains(.writable) || outputOffset < output.count { flush() }
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
        switch deadlineKind {
        case .handshake:
            worker.statistics.recordHandshakeTimeout()
            close()
        case .idle, .linger, .write:
            close()
        case .discard:
            // The early answer is out; a body that did not drain in time ends the connection, no second answer.
            inFlight = nil
            closeAfterAnswer()
        case .commit:
            guard state == .awaitingCommit else { return close() }
            state = .reading
            worker.statistics.recordOutcome(.unavailable)
            send(
                .error(
                    status: 503, code: "database_unavailable",
                    message: "The delivery could not be stored; retry later.",
                    headers: [HTTPHeader(name: "Retry-After", value: "5")]), keepAlive: false)
        case .header where inFlight == nil && parser.bufferedByteCount == 0:
            // Nothing of a request arrived: close quietly rather than answer a request never sent (a pooled
            // client would take a 408 as the answer to its next request).
            close()
        case .header, .body:
            inFlight = nil
            send(
                .error(status: 408, code: "request_timeout", message: "The request was not finished in time."),
                keepAlive: false)
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
                worker.logger.info(
                    "handshake failed",
                    metadata: ["reason": "\(failure.reason.code)", "peer": "\(remote)", "detail": "\(failure.detail)"])
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

    private func readAvailable() {
        guard let tls else { return close() }
        var progressed = false
        // Backpressure: while an answer is still being written (a client not reading), read nothing more.
        readLoop: while state == .reading && outputOffset >= output.count && !closeWhenFlushed {
            let status = worker.readBuffer.withUnsafeMutableBytes { tls.read(into: $0) }
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
        if progressed, state == .reading, deadlineKind == .body, inFlight?.discarding != true {
            setDeadline(.body, worker.configuration.bodyTimeout)
        }
    }

    /// Runs parser events until it needs more bytes, a request is handed to the writer, or the
    /// connection is closing.
    private func processParser() {
        // Not re-entrant: an answer flushed from inside this loop must not start parsing the next request
        // before the current one's bookkeeping (e.g. the discard state after a 404) is done.
        guard !parsing else { return }
        parsing = true
        defer { parsing = false }
        while state == .reading && !closeWhenFlushed {
            let event: HTTPParserEvent?
            do {
                event = try parser.next()
            } catch {
                inFlight = nil
                send(.error(status: error.status, code: error.code.name, message: error.message), keepAlive: false)
                return
            }
            guard let event else {
                armWaitingDeadline()
                return
            }
            switch event {
            case .head(let head):
                handleHead(head)
            case .body(let bytes):
                handleBody(bytes)
            case .end:
                handleEnd()
            }
        }
    }

    private func armWaitingDeadline() {
        if let inFlight {
            if inFlight.discarding, let limit = inFlight.discardDeadline {
                deadlineKind = .discard
                deadline = limit
            } else if deadlineKind != .body {
                setDeadline(.body, worker.configuration.bodyTimeout)
            }
        } else if parser.bufferedByteCount > 0 {
            // A head has begun: the whole head must arrive within the header timeout.
            if deadlineKind != .header { setDeadline(.header, worker.configuration.headerTimeout) }
        } else if requestCount > 0, deadlineKind != .idle {
            setDeadline(.idle, worker.configuration.idleTimeout)
        }
    }

    private func handleHead(_ head: HTTPRequestHead) {
        requestCount += 1
        record = RequestRecord(startedAt: worker.loop.now, method: head.method, path: head.path)
        // SPEC order: 404 → 405 → 403 → 411/413.
        let prefix = "/webhooks/"
        guard head.path.hasPrefix(prefix) else {
            return answerEarly(
                head, .error(status: 404, code: "not_found", message: "There is no webhook endpoint at this path."))
        }
        let endpoint = String(head.path.dropFirst(prefix.count))
        guard EndpointName.isValid(endpoint) else {
            return answerEarly(
                head, .error(status: 404, code: "not_found", message: "There is no webhook endpoint at this path."))
        }
        guard head.method == "POST" else {
            return answerEarly(
                head,
                .error(
                    status: 405, code: "method_not_allowed", message: "Webhook endpoints accept POST only.",
                    headers: [HTTPHeader(name: "Allow", value: "POST")]))
        }
        guard let peer else {
            // A completed handshake always has a verified peer (SSL_VERIFY_FAIL_IF_NO_PEER_CERT).
            return refuse(.noCertificate, endpoint: endpoint, detail: "no client certificate on an established session")
        }
        // SPEC: after a reload, the next request on an older connection re-verifies its certificate
        // against the new CA bundle and CRLs; a failure is a 403 with the verify reason, and the end.
        let current = worker.shared.tlsContext.context
        if verifiedContext !== current, let tls {
            if let failure = tls.reverify(against: current) {
                return refuse(failure.reason, endpoint: endpoint, detail: failure.detail)
            }
            verifiedContext = current
        }
        let now = Int64(worker.wallClockSeconds)
        let clientID: String
        switch worker.authorization.snapshot.authorize(peer, endpoint: endpoint, now: now) {
        case .success(let id):
            clientID = id
            record?.endpoint = endpoint
            record?.clientID = id
        case .failure(let reason):
            return refuse(reason, endpoint: endpoint, detail: Self.explain(reason, endpoint: endpoint))
        }
        switch head.framing {
        case .none:
            return send(
                .error(
                    status: 411, code: "length_required", message: "A webhook needs Content-Length or chunked encoding."
                ),
                keepAlive: false)
        case .contentLength(let length) where length > worker.configuration.maxBodyBytes:
            return send(
                .error(
                    status: 413, code: "payload_too_large",
                    message: "The body is larger than \(worker.configuration.maxBodyBytes) bytes."), keepAlive: false)
        case .contentLength, .chunked:
            break
        }
        var flight = InFlight(head: head, endpoint: endpoint, clientID: clientID, discarding: false)
        if case .contentLength(let length) = head.framing { flight.body.reserveCapacity(length) }
        inFlight = flight
        if head.expectsContinue && parser.bufferedByteCount == 0 {
            queue(HTTPResponse.continueBytes)
        }
        setDeadline(.body, worker.configuration.bodyTimeout)
    }

    /// 404/405: answer now; keep the connection only if the rest of the body drains (≤ 64 KiB, ≤ 1 s).
    private func answerEarly(_ head: HTTPRequestHead, _ response: HTTPResponse) {
        // A HEAD client expects no body after the answer's head: answer it once and close instead.
        let keepAlive = head.keepAlive && !head.expectsContinue && head.method != "HEAD"
        switch head.framing {
        case .contentLength(let length) where length > worker.configuration.maxDrainBytes:
            return send(response, keepAlive: false)
        default:
            break
        }
        send(response, keepAlive: keepAlive)
        inFlight = InFlight(
            head: head, endpoint: "", clientID: "", discarding: true,
            discardDeadline: worker.loop.now + .seconds(1))
        if !keepAlive { closeWhenFlushed = true }
    }

    private func refuse(_ reason: RefusalReason, endpoint: String, detail: String) {
        worker.rejections.record(
            Rejection(
                stage: .authorization, reason: reason, detail: detail, remoteAddress: remote.host,
                // No identity (no CN, two CNs) leaves client_id NULL: the reason code says why.
                clientID: peer.flatMap { try? $0.identity.get() }, endpoint: endpoint, certificate: peer))
        // SPEC: after a 403 the connection closes; the body is never read, let alone stored.
        send(
            .error(status: 403, code: reason.code, message: "This client is not authorized for this endpoint."),
            keepAlive: false)
    }

    static func explain(_ reason: RefusalReason, endpoint: String) -> String {
        switch reason {
        case .unknownClient: return "the certificate's CN is not a registered client"
        case .clientDisabled: return "the client is disabled"
        case .endpointNotGranted: return "the client is not granted endpoint \(endpoint)"
        case .pinMismatch: return "the certificate's SHA-256 is not one of the client's pins"
        case .issuerMismatch: return "the certificate's issuer is not one of the client's issuers"
        case .noCN: return "the certificate subject has no usable CN"
        case .ambiguousCN: return "the certificate subject has more than one CN"
        case .expired: return "the client certificate expired during the session"
        default: return reason.code
        }
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
            return send(
                .error(
                    status: 413, code: "payload_too_large",
                    message: "The body is larger than \(worker.configuration.maxBodyBytes) bytes."), keepAlive: false)
        }
        flight.body.append(contentsOf: bytes)
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
        let delivery = worker.makeDelivery(
            flight, peer: peer, remote: remote, tlsVersion: tlsVersion, tlsCipher: tlsCipher)
        state = .awaitingCommit
        setDeadline(.commit, worker.configuration.commitTimeout)
        inFlightKeepAlive = flight.head.keepAlive
        awaitingClientID = flight.clientID
        worker.submit(delivery, from: self)
        updateInterest()
    }

    private var inFlightKeepAlive = true
    private var awaitingClientID = ""
    private var parsing = false

    /// The writer's answer for the request in `awaitingCommit`.
    func complete(_ outcome: DeliveryOutcome) {
        guard state == .awaitingCommit else { return }
        state = .reading
        worker.statistics.recordOutcome(outcome)
        switch outcome {
        case .stored, .duplicate:
            // SPEC: last_seen_at follows accepted requests only (duplicates count as accepted).
            if let peer {
                worker.activity.seen(
                    clientID: awaitingClientID, certificateNotAfter: peer.notAfter, now: worker.loop.now)
            }
        case .unavailable, .failed:
            break
        }
        switch outcome {
        case .stored(let id):
            send(
                .json(status: 200, #"{"delivery_id":"\#(id)","duplicate":false}"#), keepAlive: inFlightKeepAlive,
                deliveryID: id)
        case .duplicate(let id):
            send(
                .json(status: 200, #"{"delivery_id":"\#(id)","duplicate":true}"#), keepAlive: inFlightKeepAlive,
                deliveryID: id)
        case .unavailable:
            send(
                .error(
                    status: 503, code: "database_unavailable",
                    message: "The delivery could not be stored; retry later.",
                    headers: [HTTPHeader(name: "Retry-After", value: "5")]), keepAlive: inFlightKeepAlive)
        case .failed:
            send(
                .error(status: 500, code: "internal_error", message: "The delivery could not be stored."),
                keepAlive: inFlightKeepAlive)
        }
        guard state == .reading, !closeWhenFlushed else { return }
        setDeadline(.idle, worker.configuration.idleTimeout)
        processParser()
        if state == .reading { readAvailable() }
    }

    /// SIGTERM ran out of time: answer 503 now if a request is still in flight.
    func abortForShutdown() {
        switch state {
        case .awaitingCommit:
            state = .reading
            send(
                .error(
                    status: 503, code: "shutting_down", message: "The server is shutting down; retry later.",
                    headers: [HTTPHeader(name: "Retry-After", value: "5")]), keepAlive: false)
        case .reading where inFlight?.discarding == true:
            inFlight = nil
            closeAfterAnswer()
        case .reading where inFlight != nil:
            inFlight = nil
            send(
                .error(
                    status: 503, code: "shutting_down", message: "The server is shutting down; retry later.",
                    headers: [HTTPHeader(name: "Retry-After", value: "5")]), keepAlive: false)
        default:
            close()
        }
    }

    // MARK: - Writing

    private func send(_ response: HTTPResponse, keepAlive requested: Bool, deliveryID: String? = nil) {
        let keepAlive =
            requested && requestCount < worker.configuration.maxRequestsPerConnection && !worker.isShuttingDown
        worker.recordAnswer(status: response.status, request: record)
        if worker.configuration.logRequests {
            logAnswer(status: response.status, deliveryID: deliveryID)
        }
        record = nil
        // Decided before queueing: a flush that completes at once must already know to close.
        if !keepAlive { closeWhenFlushed = true }
        queue(response.encoded(keepAlive: keepAlive, date: worker.date))
    }

    /// `--log-requests`: one line per answer, with what identifies the request, never its body or
    /// header values (the query string is left out too: it may carry tokens).
    private func logAnswer(status: Int, deliveryID: String?) {
        var metadata: Logger.Metadata = ["status": "\(status)", "peer": "\(remote)"]
        if let record {
            metadata["method"] = "\(record.method)"
            metadata["path"] = "\(record.path)"
            metadata["bytes"] = "\(record.bodyBytes)"
            let elapsed = (worker.loop.now - record.startedAt).components
            let microseconds = elapsed.seconds * 1_000_000 + elapsed.attoseconds / 1_000_000_000_000
            metadata["duration_ms"] = "\(Double(microseconds) / 1_000)"
            if !record.endpoint.isEmpty { metadata["endpoint"] = "\(record.endpoint)" }
            // An unusable CN (no_cn, ambiguous_cn) simply leaves the client out of the line.
            if let client = record.clientID ?? peer.flatMap({ try? $0.identity.get() }) {
                metadata["client"] = "\(client)"
            }
        }
        if let deliveryID { metadata["delivery_id"] = "\(deliveryID)" }
        worker.logger.info("request", metadata: metadata)
    }

    private func closeAfterAnswer() {
        closeWhenFlushed = true
        if outputOffset >= output.count { beginLinger() }
    }

    private func queue(_ bytes: [UInt8]) {
        if outputOffset >= output.count {
            output = bytes
            outputOffset = 0
        } else {
            output.append(contentsOf: bytes)
        }
        flush()
    }

    private func flush() {
        guard let tls else { return }
        while outputOffset < output.count {
            let status = output.withUnsafeBytes { buffer in
                tls.write(UnsafeRawBufferPointer(rebasing: buffer[outputOffset...]))
            }
            switch status {
            case .bytes(let count):
                outputOffset += count
            case .wantWrite, .wantRead:
                if deadlineKind != .write && state != .awaitingCommit {
                    setDeadline(.write, worker.configuration.bodyTimeout)
                }
                updateInterest(wantsWrite: true)
                return
            case .closed, .failed:
                close()
                return
            }
        }
        output.removeAll(keepingCapacity: output.capacity <= 65_536)
        outputOffset = 0
        if closeWhenFlushed {
            beginLinger()
        } else if worker.isShuttingDown && isIdle {
            close()
        } else {
            updateInterest()
            // Reading paused while the answer was pending; pick up what is buffered (pipelined requests).
            if state == .reading && parser.bufferedByteCount > 0 { processParser() }
        }
    }

    // MARK: - Closing

    /// Sends close_notify, half-closes, and reads (discarding) for a moment so a client still sending
    /// can read our answer instead of getting a reset.
    private func beginLinger() {
        guard state != .lingering && state != .closed else { return }
        tls?.shutdown()
        tls = nil
        socket.shutdownWrite()
        state = .lingering
        setDeadline(.linger, .seconds(1))
        setInterest(.readable)
    }

    private func drainLinger() {

        for _ in 0..<8 {
            let result: Int?
            do {
                result = try worker.readBuffer.withUnsafeMutableBytes { buffer throws(SystemError) in
                    try socket.read(into: buffer)
                }
            } catch {
                return close()
            }
            guard let count = result else { return }  // would block: wait for more or the deadline
            if count == 0 { return close() }  // EOF: the peer read our answer and closed
        }
    }

    /// Teardown in STYLE.md's order: SSL_shutdown (already sent), SSL_free, then close(fd).
    func close() {
        guard state != .closed else { return }
        state = .closed
        tls = nil
        worker.loop.unregister(socket.fileDescriptor)
        socket.close()
        worker.connectionClosed(self)
    }

    // MARK: - Interest and deadlines

    private func setDeadline(_ kind: DeadlineKind, _ after: Duration) {
        deadlineKind = kind
        deadline = worker.loop.now + after
    }

    private func updateInterest(wantsWrite: Bool = false) {
        var wanted: EpollEvents = []
        if wantsWrite || outputOffset < output.count { wanted.insert(.writable) }
        // While a delivery awaits its commit, stop reading: the next pipelined request waits in the kernel.
        // While an answer is pending, stop reading too (backpressure against clients that do not read).
        let answerPending = outputOffset < output.count || closeWhenFlushed
        if (state == .reading && !answerPending) || state == .lingering || state == .handshaking {
            wanted.insert(.readable)
        }
        setInterest(wanted)
    }

    private func setInterest(_ wanted: EpollEvents) {
        guard wanted != interest, state != .closed else { return }
        interest = wanted
        do {
            try worker.loop.modify(socket.fileDescriptor, interest: wanted)
        } catch {
            close()
        }
    }
}
