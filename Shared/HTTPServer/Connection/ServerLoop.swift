import CEpoll
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization

/// The event loop: one dedicated thread blocked in `epoll_wait`, owning the listening socket and
/// every connection. Reading, parsing and writing happen here; responders run as tasks on the
/// cooperative pool and hand their serialized responses back through a locked inbox and an eventfd.
///
/// Invariant that makes `@unchecked Sendable` sound: the mutable connection state (`connections`,
/// `Connection` objects, counters below `MARK: Loop-thread state`) is touched only on the loop
/// thread; other threads use only `post(_:)`, `isDraining` and the lifecycle lock.
final class ServerLoop: @unchecked Sendable {
    enum Message {
        /// A whole response; the request is done.
        case response(token: UInt64, bytes: [UInt8], keepAlive: Bool)
        /// Part of a streamed response; `accepted` is resumed with false when the client is gone.
        case streamPiece(token: UInt64, bytes: [UInt8], accepted: CheckedContinuation<Bool, Never>)
        /// The end of a streamed response; the request is done.
        case streamEnded(token: UInt64, bytes: [UInt8], keepAlive: Bool)
        /// A streamed response failed midway: cut the connection.
        case streamAborted(token: UInt64)
        /// The admitter of the connection's pending request decided.
        case admission(token: UInt64, Admission)
        case shutdown
    }

    static let listenerToken: UInt64 = 0
    static let wakeToken: UInt64 = 1
    static let connectionEvents = CEPOLL_IN | CEPOLL_OUT | CEPOLL_RDHUP | CEPOLL_ET
    /// Input buffered while a request is being handled before reading pauses.
    static let maxBufferedInputWhileBusy = 128 * 1024
    /// Input buffered past a head while its admitter decides: one read's worth.
    static let maxBufferedInputWhileAdmitting = 64 * 1024
    /// Rejected (503) connections lingering at once; more are closed without an answer.
    static let maxRejectedConnections = 64
    /// Reads of up to 64 KiB one connection gets per loop turn.
    static let readsPerTurn = 16
    /// Bytes discarded while lingering before the connection is closed outright.
    static let maxLingeringDiscard = 1024 * 1024
    /// Unsent bytes of a streamed response above which its producer is suspended.
    static let streamWatermark = 256 * 1024

    let configuration: HTTPServerConfiguration
    let logger: Logger
    let responder: any HTTPResponder
    let metrics: ServerMetrics?
    let epollFD: Int32
    let wakeFD: Int32
    let port: Int

    private let inbox = Mutex<(messages: [Message], closed: Bool)>(([], false))
    private let draining = Atomic<Bool>(false)
    private let lifecycle = Mutex<(stopped: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    // MARK: Loop-thread state
    private var listenFD: Int32
    private var listenerPausedUntil: UInt64 = 0
    var connections: [UInt64: Connection] = [:]
    var activeConnections = 0
    var rejectedConnections = 0
    var inFlightRequests = 0
    /// Body bytes reserved by all connections (``HTTPServerLimits/maxBufferedBodyBytes``).
    var bufferedBodyBytes = 0
    /// Connections that used their read budget and still have data waiting.
    var connectionsToReadAgain: [UInt64] = []
    private var nextToken: UInt64 = 2
    private var shutdownDeadline: UInt64 = 0
    private var nextSweep: UInt64 = 0
    private let sweepInterval: UInt64
    let readScratch: UnsafeMutableRawBufferPointer

    init(configuration: HTTPServerConfiguration, logger: Logger, responder: any HTTPResponder, metrics: ServerMetrics?) throws {
        self.configuration = configuration
        self.logger = logger
        self.responder = responder
        self.metrics = metrics
        let (fd, port) = try ListeningSocket.open(host: configuration.host, port: configuration.port, backlog: configuration.backlog)
        self.listenFD = fd
        self.port = port
        epollFD = cepoll_create()
        wakeFD = cepoll_eventfd_create()
        guard epollFD >= 0, wakeFD >= 0 else {
            for descriptor in [fd, epollFD, wakeFD] where descriptor >= 0 { close(descriptor) }
            throw HTTPServerStartError(description: "cannot create epoll/eventfd: \(String(cString: strerror(errno)))")
        }
        _ = cepoll_add(epollFD, fd, CEPOLL_IN, Self.listenerToken)
        _ = cepoll_add(epollFD, wakeFD, CEPOLL_IN | CEPOLL_ET, Self.wakeToken)
        let timeouts = configuration.timeouts
        let shortest = [timeouts.requestHead, timeouts.bodyGrace, timeouts.keepAliveIdle, timeouts.writeStall, timeouts.lingeringClose]
            .map(\.nanoseconds).min() ?? 1_000_000_000
        sweepInterval = min(max(shortest / 8, 10_000_000), 250_000_000)
        readScratch = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit { readScratch.deallocate() }

    // MARK: Cross-thread API

    var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Hands a message to the loop thread and wakes it. Returns false (and drops the message)
    /// once the loop has stopped.
    @discardableResult
    func post(_ message: Message) -> Bool {
        inbox.withLock { state in
            guard !state.closed else { return false }
            let wasEmpty = state.messages.isEmpty
            state.messages.append(message)
            // Signalled under the lock so it can never hit a descriptor `finish()` closed.
            if wasEmpty { _ = cepoll_eventfd_signal(wakeFD) }
            return true
        }
    }

    /// Starts the loop on a thread of its own: a plain pthread rather than Foundation's `Thread`,
    /// so the server does not pull in Foundation (several MiB of resident memory per process).
    func start() {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, 1 << 20)
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { context in
            let loop = Unmanaged<ServerLoop>.fromOpaque(context!).takeRetainedValue()
            cepoll_name_current_thread("http-epoll")
            loop.run()
            return nil
        }, context)
        precondition(status == 0, "cannot start the HTTP event-loop thread (error \(status))")
        pthread_detach(thread)
    }

    /// Returns once the loop has stopped and every socket is closed.
    func waitUntilStopped() async {
        await withCheckedContinuation { continuation in
            let alreadyStopped = lifecycle.withLock { state -> Bool in
                if state.stopped { return true }
                state.waiters.append(continuation)
                return false
            }
            if alreadyStopped { continuation.resume() }
        }
    }

    // MARK: The loop

    private func run() {
        var events = [cepoll_event_t](repeating: cepoll_event_t(), count: 256)
        let tickMillis = Int32(sweepInterval / 1_000_000)
        while true {
            let timeout = connectionsToReadAgain.isEmpty ? tickMillis : 0
            let count = events.withUnsafeMutableBufferPointer { cepoll_wait(epollFD, $0.baseAddress, Int32($0.count), timeout) }
            if count < 0 && errno != EINTR {
                logger.error("epoll_wait failed", ["errno": String(errno)])
                break
            }
            for index in 0..<max(0, Int(count)) {
                let event = events[index]
                switch event.token {
                case Self.listenerToken: acceptConnections()
                case Self.wakeToken: _ = cepoll_eventfd_drain(wakeFD)
                default: handleEvent(event)
                }
            }
            drainInbox()
            if !connectionsToReadAgain.isEmpty {
                let tokens = connectionsToReadAgain
                connectionsToReadAgain.removeAll(keepingCapacity: true)
                for token in tokens {
                    if let connection = connections[token] { readAvailable(connection) }
                }
            }
            let now = MonotonicClock.now()
            if now >= nextSweep {
                nextSweep = now + sweepInterval
                sweep(now: now)
            }
            if isDraining && connections.isEmpty { break }
        }
        finish()
    }

    private func drainInbox() {
        let messages = inbox.withLock { state -> [Message] in
            let taken = state.messages
            state.messages.removeAll(keepingCapacity: true)
            return taken
        }
        for message in messages {
            switch message {
            case .response(let token, let bytes, let keepAlive), .streamEnded(let token, let bytes, let keepAlive):
                inFlightRequests -= 1
                if let connection = connections[token] { deliver(bytes, keepAlive: keepAlive, to: connection) }
            case .admission(let token, let admission):
                if let connection = connections[token], connection.phase == .admitting { admitted(admission, on: connection) }
            case .streamPiece(let token, let bytes, let accepted):
                guard let connection = connections[token], connection.phase == .handling else {
                    accepted.resume(returning: false)
                    continue
                }
                connection.streamAck = accepted
                write(bytes, to: connection)  // resumes `accepted` once below the watermark
            case .streamAborted(let token):
                inFlightRequests -= 1
                if let connection = connections[token] { closeConnection(connection) }
            case .shutdown:
                beginDrain()
            }
        }
    }

    private func handleEvent(_ event: cepoll_event_t) {
        guard let connection = connections[event.token] else { return }
        if event.events & (CEPOLL_IN | CEPOLL_RDHUP | CEPOLL_HUP | CEPOLL_ERR) != 0 {
            connection.mayRead = true
            readAvailable(connection)
        }
        if event.events & CEPOLL_OUT != 0, connections[event.token] != nil {
            flush(connection)
        }
    }

    // MARK: Accepting

    private func acceptConnections() {
        while true {
            let fd = cepoll_accept(listenFD)
            if fd < 0 {
                switch errno {
                case EINTR, ECONNABORTED: continue
                case EAGAIN, EWOULDBLOCK: return
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    logger.warning("accept failed: out of descriptors or memory; pausing accepts", ["errno": String(errno)])
                    pauseListener(now: MonotonicClock.now())
                    return
                default:
                    return
                }
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let rejected = activeConnections >= configuration.limits.maxConnections
            if rejected && rejectedConnections >= Self.maxRejectedConnections {
                metrics?.rejectedConnections.increment()
                close(fd)
                continue
            }
            let token = nextToken
            nextToken += 1
            let connection = Connection(fd: fd, token: token, limits: configuration.limits, isRejected: rejected)
            guard cepoll_add(epollFD, fd, Self.connectionEvents, token) == 0 else {
                close(fd)
                continue
            }
            connections[token] = connection
            if rejected {
                rejectedConnections += 1
                metrics?.rejectedConnections.increment()
                rejectForCapacity(connection)
            } else {
                activeConnections += 1
                metrics?.acceptedConnections.increment()
                metrics?.openConnections.set(Double(activeConnections))
                connection.deadline = MonotonicClock.now() + configuration.timeouts.requestHead.nanoseconds
            }
        }
    }

    private func pauseListener(now: UInt64) {
        _ = cepoll_remove(epollFD, listenFD)
        listenerPausedUntil = now + 100_000_000
    }

    // MARK: Timeouts and shutdown

    private func sweep(now: UInt64) {
        if listenerPausedUntil != 0, now >= listenerPausedUntil, !isDraining {
            listenerPausedUntil = 0
            _ = cepoll_add(epollFD, listenFD, CEPOLL_IN, Self.listenerToken)
        }
        if isDraining, now >= shutdownDeadline {
            if !connections.isEmpty {
                logger.warning("shutdown grace period over; closing connections", [
                    "connections": String(connections.count), "in_flight": String(inFlightRequests),
                ])
            }
            for connection in Array(connections.values) { closeConnection(connection) }
            return
        }
        for connection in Array(connections.values) {
            if isDraining, isIdle(connection) {
                closeConnection(connection)  // e.g. its last response was still being written when draining began
                continue
            }
            if connection.writeDeadline != 0, now >= connection.writeDeadline {
                metrics?.timeouts.increment(by: 1, ["phase": "write"])
                closeConnection(connection)
                continue
            }
            guard connection.deadline != 0, now >= connection.deadline else { continue }
            timedOut(connection)
        }
    }

    private func beginDrain() {
        guard !draining.exchange(true, ordering: .relaxed) else { return }
        _ = cepoll_remove(epollFD, listenFD)
        close(listenFD)
        listenFD = -1
        shutdownDeadline = MonotonicClock.now() + configuration.shutdownGracePeriod.nanoseconds
        logger.info("http server draining", ["connections": String(connections.count), "in_flight": String(inFlightRequests)])
        for connection in Array(connections.values) where isIdle(connection) {
            closeConnection(connection)
        }
    }

    /// Idle: between requests with nothing received and nothing left to write.
    func isIdle(_ connection: Connection) -> Bool {
        connection.phase == .awaitingHead && !connection.headParser.hasStarted
            && connection.bufferedInput == 0 && !connection.hasPendingOutput
    }

    private func finish() {
        for connection in Array(connections.values) { closeConnection(connection) }
        if listenFD >= 0 { close(listenFD) }
        let unhandled = inbox.withLock { state -> [Message] in
            state.closed = true
            close(wakeFD)
            defer { state.messages.removeAll() }
            return state.messages
        }
        for case .streamPiece(_, _, let accepted) in unhandled { accepted.resume(returning: false) }
        close(epollFD)
        logger.info("http server stopped", ["port": String(port)])
        let waiters = lifecycle.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.stopped = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func closeConnection(_ connection: Connection) {
        guard connections.removeValue(forKey: connection.token) != nil else { return }
        releaseBody(of: connection)
        connection.handlerTask?.cancel()  // nobody is left to answer
        connection.handlerTask = nil
        connection.streamAck?.resume(returning: false)
        connection.streamAck = nil
        close(connection.fd)
        if connection.isRejected {
            rejectedConnections -= 1
        } else {
            activeConnections -= 1
            metrics?.openConnections.set(Double(activeConnections))
        }
    }
}

/// Monotonic nanoseconds for deadlines.
enum MonotonicClock {
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
