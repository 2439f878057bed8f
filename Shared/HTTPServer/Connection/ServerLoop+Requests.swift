import CEpoll
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// Per-connection work of the loop: reading, parsing, dispatching to the responder, writing.
/// Everything here runs on the loop thread.
extension ServerLoop {
    // MARK: Reading

    /// Reads until the socket is drained (edge-triggered epoll needs that), but at most
    /// ``readsPerTurn`` times, so one fast client cannot starve the others: a connection with
    /// more to read is queued for the next loop turn.
    func readAvailable(_ connection: Connection) {
        var reads = 0
        while connection.mayRead, connections[connection.token] != nil {
            if connection.phase == .handling || connection.hasPendingOutput,
               connection.bufferedInput >= Self.maxBufferedInputWhileBusy {
                return  // resume when the response is out (mayRead stays true)
            }
            if connection.phase == .admitting, connection.bufferedInput >= Self.maxBufferedInputWhileAdmitting {
                return  // resume once admitted (mayRead stays true)
            }
            if reads == Self.readsPerTurn {
                connectionsToReadAgain.append(connection.token)
                return
            }
            reads += 1
            let received = recv(connection.fd, readScratch.baseAddress, readScratch.count, 0)
            if received > 0 {
                if connection.phase == .closing {
                    connection.discardedBytes += received
                    if connection.discardedBytes > Self.maxLingeringDiscard { closeConnection(connection) }
                    continue  // lingering: discard
                }
                connection.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: readScratch[0..<received]))
                process(connection)
            } else if received == 0 {
                connection.mayRead = false
                peerClosed(connection)
                return
            } else {
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: connection.mayRead = false
                default: closeConnection(connection)
                }
                return
            }
        }
    }

    private func peerClosed(_ connection: Connection) {
        connection.peerClosed = true
        switch connection.phase {
        case .handling:
            // The client left (or shut its sending side): stop the responder's work, e.g. end a
            // long-poll. Whatever it still returns is written before the connection closes.
            connection.handlerTask?.cancel()
        case .closing:
            if !connection.hasPendingOutput { closeConnection(connection) }  // else closed once flushed
        case .awaitingHead, .admitting, .readingBody:
            if connection.hasPendingOutput {
                connection.phase = .closing
                connection.deadline = MonotonicClock.now() + configuration.timeouts.lingeringClose.nanoseconds
            } else {
                closeConnection(connection)
            }
        }
    }

    // MARK: Parsing

    /// Advances the connection as far as its buffered input allows.
    func process(_ connection: Connection) {
        defer { connection.compactInput() }
        while connections[connection.token] != nil {
            switch connection.phase {
            case .handling, .closing, .admitting:
                return
            case .awaitingHead:
                guard connection.bufferedInput > 0 else { return }
                // Keep pipelined responses bounded: parse on once the previous one is mostly out.
                if connection.output.count - connection.outputStart > Self.maxBufferedInputWhileBusy { return }
                let hadStarted = connection.headParser.hasStarted
                let outcome = connection.input.withUnsafeBufferPointer { buffer in
                    connection.headParser.parse(UnsafeBufferPointer(rebasing: buffer[connection.inputStart...]))
                }
                switch outcome {
                case .needMoreData:
                    if !hadStarted && connection.headParser.hasStarted && connection.requestsServed > 0 {
                        connection.deadline = MonotonicClock.now() + configuration.timeouts.requestHead.nanoseconds
                    }
                    return
                case .failure(let error):
                    fail(connection, with: error)
                    return
                case .complete(let parsed, let consumed):
                    connection.inputStart += consumed
                    connection.headParser.reset()
                    admitOrBegin(parsed, on: connection)
                }
            case .readingBody:
                readBody(connection)
                if connection.phase == .readingBody { return }
            }
        }
    }

    /// A request with a body whose route admits callers from the head waits for its admitter
    /// before a body byte is read; any other goes on at once.
    private func admitOrBegin(_ parsed: ParsedRequestHead, on connection: Connection) {
        connection.pendingRequestID = RequestID.generate()
        connection.pendingClientRequestID = RequestID.clientID(from: parsed.head.headers)
        connection.pendingPrincipal = nil
        switch parsed.framing {
        case .none, .contentLength(0):
            break
        case .contentLength, .chunked:
            if let admitter = responder.admitter(for: parsed.head) {
                connection.phase = .admitting
                connection.pendingHead = parsed
                connection.deadline = 0  // our own work, bounded by the admitter's timeouts
                let token = connection.token, head = parsed.head, requestID = connection.pendingRequestID
                connection.handlerTask = Task { [self] in
                    post(.admission(token: token, await admitter(head, requestID)))
                }
                return
            }
        }
        beginBody(of: parsed, on: connection)
    }

    /// The admitter decided: read the body, or answer and close without reading it.
    func admitted(_ admission: Admission, on connection: Connection) {
        connection.handlerTask = nil
        let parsed = connection.pendingHead!
        connection.pendingHead = nil
        switch admission {
        case .admitted(let principal):
            connection.pendingPrincipal = principal
            beginBody(of: parsed, on: connection)
            guard connections[connection.token] != nil else { return }
            process(connection)
            if connection.mayRead { readAvailable(connection) }
        case .refused(let response):
            let bytes = ResponseSerializer.serialize(response, .init(
                requestID: connection.pendingRequestID, keepAlive: false, requestVersion: parsed.head.version,
                isHeadRequest: parsed.head.method == .head))
            connection.phase = .closing
            connection.inputStart = connection.input.count
            connection.deadline = MonotonicClock.now() + configuration.timeouts.lingeringClose.nanoseconds
            write(bytes, to: connection)
        }
    }

    private func beginBody(of parsed: ParsedRequestHead, on connection: Connection) {
        let limit = responder.bodyLimit(for: parsed.head) ?? configuration.limits.maxBodyBytes
        switch parsed.framing {
        case .none, .contentLength(0):
            dispatch(parsed, body: [], on: connection)
            return
        case .contentLength(let length):
            guard length <= limit else { return fail(connection, with: .bodyTooLarge) }
            guard reserveBody(length, for: connection) else { return fail(connection, with: .bodyCapacity) }
            connection.bodyRemaining = length
            connection.chunkedDecoder = nil
            connection.body = []
            connection.body.reserveCapacity(min(length, 64 * 1024))  // a declared length is not yet a body
        case .chunked:
            connection.chunkedDecoder = ChunkedBodyDecoder(bodyLimit: limit, maxTrailerBytes: configuration.limits.maxHeaderBytes)
            connection.body = []
        }
        connection.pendingHead = parsed
        connection.phase = .readingBody
        connection.bodyStarted = MonotonicClock.now()
        connection.bodyBytesReceived = 0
        connection.deadline = bodyDeadline(connection)
        if parsed.expectsContinue && connection.bufferedInput == 0 {
            write(ResponseSerializer.continueResponse, to: connection)
        }
    }

    /// The body's start + grace + its bytes' share of time at the minimum rate.
    private func bodyDeadline(_ connection: Connection) -> UInt64 {
        let earned = UInt64(connection.bodyBytesReceived) * 1_000_000_000 / UInt64(configuration.timeouts.minimumBodyBytesPerSecond)
        return connection.bodyStarted + configuration.timeouts.bodyGrace.nanoseconds + earned
    }

    private func readBody(_ connection: Connection) {
        guard connection.bufferedInput > 0 else { return }
        let before = connection.inputStart
        defer {
            connection.bodyBytesReceived += connection.inputStart - before
            if connection.phase == .readingBody { connection.deadline = bodyDeadline(connection) }
        }
        if var decoder = connection.chunkedDecoder {
            let (consumed, outcome) = connection.input.withUnsafeBufferPointer { buffer in
                decoder.decode(UnsafeBufferPointer(rebasing: buffer[connection.inputStart...]), into: &connection.body)
            }
            connection.chunkedDecoder = decoder
            connection.inputStart += consumed
            if connection.body.count > connection.reservedBodyBytes,
               !reserveBody(connection.body.count - connection.reservedBodyBytes, for: connection) {
                return fail(connection, with: .bodyCapacity)
            }
            switch outcome {
            case .needMoreData: return
            case .failure(let error): return fail(connection, with: error)
            case .complete: break
            }
        } else {
            let take = min(connection.bodyRemaining, connection.bufferedInput)
            connection.body.append(contentsOf: connection.input[connection.inputStart..<(connection.inputStart + take)])
            connection.inputStart += take
            connection.bodyRemaining -= take
            guard connection.bodyRemaining == 0 else { return }
        }
        let parsed = connection.pendingHead!
        let body = connection.body
        connection.pendingHead = nil
        connection.chunkedDecoder = nil
        connection.body = []
        dispatch(parsed, body: body, on: connection)
    }

    /// Takes `bytes` of the process-wide body budget for `connection`, if they fit.
    private func reserveBody(_ bytes: Int, for connection: Connection) -> Bool {
        guard bufferedBodyBytes + bytes <= configuration.limits.maxBufferedBodyBytes else { return false }
        bufferedBodyBytes += bytes
        connection.reservedBodyBytes += bytes
        return true
    }

    /// Gives the connection's body budget back (its response is out, or it is gone).
    func releaseBody(of connection: Connection) {
        bufferedBodyBytes -= connection.reservedBodyBytes
        connection.reservedBodyBytes = 0
    }

    // MARK: Handing requests to the responder

    private func dispatch(_ parsed: ParsedRequestHead, body: [UInt8], on connection: Connection) {
        connection.phase = .handling
        connection.deadline = 0
        inFlightRequests += 1
        let request = HTTPRequest(
            head: parsed.head, body: body, requestID: connection.pendingRequestID, clientRequestID: connection.pendingClientRequestID,
            principal: connection.pendingPrincipal)
        connection.pendingPrincipal = nil
        let token = connection.token
        let keepAliveRequested = parsed.keepAlive && !connection.peerClosed
        let responder = self.responder
        connection.handlerTask = Task { [self] in
            let response = await responder.respond(to: request)
            let framing = ResponseSerializer.Framing(
                requestID: request.requestID, keepAlive: keepAliveRequested && !isDraining,
                requestVersion: request.version, isHeadRequest: request.method == .head
            )
            if let stream = response.bodyStream, !response.status.forbidsBody {
                await sendStreamed(response, stream, framing: framing, token: token)
            } else {
                post(.response(token: token, bytes: ResponseSerializer.serialize(response, framing), keepAlive: framing.keepAlive))
            }
        }
    }

    /// A responder's answer arrived: write it, then go on with pipelined input or close.
    func deliver(_ bytes: [UInt8], keepAlive: Bool, to connection: Connection) {
        guard connection.phase == .handling else { return }
        connection.handlerTask = nil
        releaseBody(of: connection)
        connection.requestsServed += 1
        if keepAlive && !isDraining && !connection.peerClosed {
            connection.phase = .awaitingHead
            connection.deadline = MonotonicClock.now() + configuration.timeouts.keepAliveIdle.nanoseconds
            write(bytes, to: connection)
            guard connections[connection.token] != nil else { return }
            process(connection)
            if connection.mayRead { readAvailable(connection) }
        } else {
            connection.phase = .closing
            connection.deadline = MonotonicClock.now() + configuration.timeouts.lingeringClose.nanoseconds
            write(bytes, to: connection)
        }
    }

    // MARK: Errors, rejections, timeouts

    /// Answers a protocol error with a problem+json response and closes the connection.
    func fail(_ connection: Connection, with error: HTTPProtocolError) {
        metrics?.protocolErrors.increment(by: 1, ["code": error.code])
        let requestID = RequestID.generate()
        logger.debug("refused malformed request", ["status": String(error.status.code), "code": error.code, "request_id": requestID])
        releaseBody(of: connection)
        let problem = Problem(status: error.status, code: error.code, detail: error.detail)
        var response = problem.response(requestID: requestID)
        if let seconds = error.retryAfterSeconds { response.headers.add(name: "Retry-After", value: String(seconds)) }
        let bytes = ResponseSerializer.serialize(response, .init(
            requestID: requestID, keepAlive: false, requestVersion: .http1_1, isHeadRequest: false
        ))
        connection.phase = .closing
        connection.inputStart = connection.input.count
        connection.deadline = MonotonicClock.now() + configuration.timeouts.lingeringClose.nanoseconds
        write(bytes, to: connection)
    }

    func rejectForCapacity(_ connection: Connection) {
        let requestID = RequestID.generate()
        let problem = Problem(status: .serviceUnavailable, code: "too-many-connections", detail: "The server is at its connection limit; retry later.")
        var response = problem.response(requestID: requestID)
        response.headers.add(name: "Retry-After", value: "1")
        connection.phase = .closing
        connection.deadline = MonotonicClock.now() + configuration.timeouts.lingeringClose.nanoseconds
        write(ResponseSerializer.serialize(response, .init(requestID: requestID, keepAlive: false, requestVersion: .http1_1, isHeadRequest: false)), to: connection)
    }

    func timedOut(_ connection: Connection) {
        switch connection.phase {
        case .awaitingHead where connection.headParser.hasStarted || connection.bufferedInput > 0:
            metrics?.timeouts.increment(by: 1, ["phase": "head"])
            fail(connection, with: .requestTimeout)
        case .readingBody:
            metrics?.timeouts.increment(by: 1, ["phase": "body"])
            fail(connection, with: .requestTimeout)
        case .awaitingHead, .closing:
            closeConnection(connection)  // idle keep-alive or linger over: close quietly
        case .handling, .admitting:
            connection.deadline = 0  // responders and admitters are not timed here
        }
    }

    // MARK: Writing

    /// Queues bytes and writes as much as the socket takes.
    func write(_ bytes: [UInt8], to connection: Connection) {
        if connection.hasPendingOutput {
            connection.output.append(contentsOf: bytes)
        } else {
            let sent = send(bytes, on: connection, from: 0)
            guard sent >= 0 else { return closeConnection(connection) }
            if sent < bytes.count {
                connection.output.append(contentsOf: bytes[sent...])
                connection.outputStart = 0
            }
        }
        afterWrite(connection)
    }

    /// Writes pending output (EPOLLOUT arrived).
    func flush(_ connection: Connection) {
        if connection.hasPendingOutput {
            let sent = send(connection.output, on: connection, from: connection.outputStart)
            guard sent >= 0 else { return closeConnection(connection) }
            connection.outputStart += sent
            connection.compactOutput()
            if sent > 0 { connection.writeDeadline = 0 }  // progress: the stall timer starts again
        }
        afterWrite(connection)
        if connections[connection.token] != nil, connection.phase == .awaitingHead, !connection.hasPendingOutput {
            process(connection)
            if connection.mayRead { readAvailable(connection) }
        }
    }

    private func afterWrite(_ connection: Connection) {
        if let ack = connection.streamAck, connection.pendingOutputBytes <= Self.streamWatermark {
            connection.streamAck = nil
            ack.resume(returning: true)
        }
        if connection.hasPendingOutput {
            if connection.writeDeadline == 0 {
                connection.writeDeadline = MonotonicClock.now() + configuration.timeouts.writeStall.nanoseconds
            }
            return
        }
        connection.writeDeadline = 0
        guard connection.phase == .closing, !connection.writeShut else { return }
        connection.writeShut = true
        if connection.peerClosed {
            closeConnection(connection)
        } else {
            shutdown(connection.fd, Int32(SHUT_WR))
            if connection.mayRead { readAvailable(connection) }  // drain; closes on EOF
        }
    }

    /// Sends from `offset` until done or EAGAIN; returns bytes sent, or -1 when the peer is gone.
    private func send(_ bytes: [UInt8], on connection: Connection, from offset: Int) -> Int {
        bytes.withUnsafeBytes { buffer in
            var position = offset
            while position < buffer.count {
                let written = Glibc.send(connection.fd, buffer.baseAddress! + position, buffer.count - position, CEPOLL_MSG_NOSIGNAL)
                if written >= 0 {
                    position += written
                    continue
                }
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: return position - offset
                default: return -1
                }
            }
            return position - offset
        }
    }
}
