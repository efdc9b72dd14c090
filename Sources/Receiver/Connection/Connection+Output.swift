import HTTP1
import Logging
import Posix
import TLS

// Writing answers, lingering, closing, epoll interest and deadlines: the connection's I/O half.
extension Connection {
    // MARK: - Writing

    func send(_ answer: Answer, keepAlive requested: Bool, deliveryID: String? = nil) {
        // Every answer ends the body it was about: stored, refused or dropped, its bytes are free again.
        releaseBody()
        let response = answer.response
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

    func closeAfterAnswer() {
        closeWhenFlushed = true
        if output.isEmpty { beginLinger() }
    }

    func queue(_ bytes: [UInt8]) {
        output.append(bytes)
        flush()
    }

    func flush() {
        guard let tls else { return }
        let result = output.flush { buffer in
            switch tls.write(buffer) {
            case .bytes(let count): return .wrote(count)
            case .wantWrite, .wantRead: return .wouldBlock
            case .closed, .failed: return .failed
            }
        }
        switch result {
        case .wouldBlock:
            if deadlineKind != .write && !isAwaitingCommit {
                setDeadline(.write, worker.configuration.bodyTimeout)
            }
            updateInterest(wantsWrite: true)
        case .failed:
            close()
        case .drained:
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
    }

    // MARK: - Closing

    /// Sends close_notify, half-closes, and reads (discarding) for a moment so a client still sending
    /// can read our answer instead of getting a reset.
    func beginLinger() {
        guard state != .lingering && state != .closed else { return }
        tls?.shutdown()
        tls = nil
        socket.shutdownWrite()
        state = .lingering
        setDeadline(.linger, .seconds(1))
        setInterest(.readable)
    }

    func drainLinger() {
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
        releaseBody()
        if let client = countedClient { worker.shared.throttle.releaseConnection(client) }
        countedClient = nil
        tls = nil
        worker.loop.unregister(socket.fileDescriptor)
        socket.close()
        worker.connectionClosed(self)
    }

    // MARK: - Interest and deadlines

    func setDeadline(_ kind: DeadlineKind, _ after: Duration) {
        deadlineKind = kind
        deadline = worker.loop.now + after
    }

    func updateInterest(wantsWrite: Bool = false) {
        // Not `[]`: the array-literal init of another module's OptionSet runs SetAlgebra's unspecialised
        // generic init (≈ 740 instructions, twice per delivery).
        var wanted = EpollEvents()
        if wantsWrite || !output.isEmpty { wanted.insert(.writable) }
        // While a delivery awaits its commit, stop reading: the next pipelined request waits in the kernel.
        // While an answer is pending, stop reading too (backpressure against clients that do not read).
        let answerPending = !output.isEmpty || closeWhenFlushed
        if (state == .reading && !answerPending && !isPausedForBudget) || state == .lingering || state == .handshaking {
            wanted.insert(.readable)
        } else if isAwaitingCommit && !answerPending && interest.contains(.readable) {
            // Lazily: a client normally sends its next request after our answer, so dropping and re-adding
            // the registration would cost two epoll_ctl calls per request. The first readable event while
            // the commit is pending (a pipelined request, EOF) drops it then (`handle`).
            wanted.insert(.readable)
        }
        setInterest(wanted)
    }

    func setInterest(_ wanted: EpollEvents) {
        guard wanted != interest, state != .closed else { return }
        interest = wanted
        do {
            try worker.loop.modify(socket.fileDescriptor, interest: wanted)
        } catch {
            close()
        }
    }
}
