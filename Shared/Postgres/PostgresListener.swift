import Threads
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// What a subscriber of the listener receives.
public enum ListenerEvent: Sendable, Equatable {
    /// A `NOTIFY` on one of the subscribed channels.
    case notification(channel: String, payload: String)
    /// The listening session was re-established after a break. Notifications sent meanwhile are
    /// lost: re-read whatever state the notifications stand for.
    case reconnected
}

/// One `LISTEN` session per process, on a dedicated connection and a thread of its own that
/// sleeps in `poll()` on the socket (no sleep loop). Subscribers get an `AsyncStream` of events;
/// after a reconnect the listener LISTENs again on every channel and tells subscribers with
/// `.reconnected`.
public final class PostgresListener: Sendable {
    /// Channel names are identifiers: letters, digits, `_`, `-`, `.`, `:`; at most 63 bytes.
    public static func isValidChannel(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 63 && name.utf8.allSatisfy { byte in
            (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
        }
    }

    private struct Subscriber {
        let channels: Set<String>
        let continuation: AsyncStream<ListenerEvent>.Continuation
    }

    private enum Command {
        case listen(String, CheckedContinuation<Void, Error>)
        case stop
    }

    private struct State {
        var subscribers: [UInt64: Subscriber] = [:]
        var nextID: UInt64 = 0
        var listening: Set<String> = []
        var commands: [Command] = []
        var stopped = false
    }

    private let configuration: PostgresConfiguration
    private let logger: Logger
    private let state = Mutex(State())
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let reconnectDelay: Duration

    public init(configuration: PostgresConfiguration, logger: Logger, reconnectDelay: Duration = .milliseconds(100)) {
        var configuration = configuration
        configuration.statementTimeoutMilliseconds = 0
        configuration.applicationName += "-listener"
        self.configuration = configuration
        self.logger = logger
        self.reconnectDelay = reconnectDelay
        var fds: [Int32] = [0, 0]
        _ = pipe(&fds)
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        startOwnThread { [self] in self.run() }
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Subscribes to `channels`. Returns once the session LISTENs on all of them, so a NOTIFY
    /// sent after this returns is delivered (unless the connection breaks, which `.reconnected`
    /// reports). Cancelling iteration of the stream ends the subscription.
    public func subscribe(to channels: Set<String>) async throws -> AsyncStream<ListenerEvent> {
        for channel in channels where !Self.isValidChannel(channel) {
            throw PostgresError(code: .invalidArgument, message: "invalid channel name \(channel)")
        }
        let (stream, continuation) = AsyncStream<ListenerEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            state.subscribers[state.nextID] = Subscriber(channels: channels, continuation: continuation)
            return state.nextID
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        for channel in channels { try await ensureListening(channel) }
        return stream
    }

    /// Ends the session and finishes every subscriber's stream.
    public func stop() {
        let subscribers = state.withLock { state -> [Subscriber] in
            state.stopped = true
            state.commands.append(.stop)
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        wake()
        for subscriber in subscribers { subscriber.continuation.finish() }
    }

    private func ensureListening(_ channel: String) async throws {
        if state.withLock({ $0.listening.contains(channel) }) { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let stopped = state.withLock { state -> Bool in
                if state.stopped { return true }
                state.commands.append(.listen(channel, continuation))
                return false
            }
            if stopped {
                continuation.resume(throwing: PostgresError(code: .poolClosed, message: "listener stopped"))
            } else {
                wake()
            }
        }
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func drainWake() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    private static func listenStatement(_ channel: String) -> String {
        // LISTEN takes an identifier, not a parameter; the name was validated (no quotes possible).
        "LISTEN \"" + channel + "\""
    }

    private func deliver(_ event: ListenerEvent, channel: String?) {
        let targets = state.withLock { state in
            state.subscribers.values.filter { channel == nil || $0.channels.contains(channel!) }.map(\.continuation)
        }
        for target in targets { target.yield(event) }
    }

    // MARK: The listener thread

    private func run() {
        var connection: LibPQConnection?
        var everConnected = false
        while true {
            if state.withLock({ $0.stopped }) { break }
            if connection == nil {
                do {
                    let fresh = try LibPQConnection.connect(configuration)
                    let channels = state.withLock { $0.listening }
                    for channel in channels { try fresh.executeScript(Self.listenStatement(channel)) }
                    connection = fresh
                    if everConnected {
                        logger.info("listener reconnected", ["channels": String(channels.count)])
                        deliver(.reconnected, channel: nil)
                    }
                    everConnected = true
                } catch {
                    logger.warning("listener cannot connect; retrying", ["error": "\(error)"])
                    waitForWake(timeoutMilliseconds: Int32(reconnectDelay.components.seconds * 1000 + reconnectDelay.components.attoseconds / 1_000_000_000_000_000))
                    drainWake()
                    failPendingListensIfStopped()
                    continue
                }
            }
            guard let session = connection else { continue }
            // Commands first: LISTEN for new channels.
            let commands = state.withLock { state -> [Command] in
                defer { state.commands.removeAll() }
                return state.commands
            }
            var broken = false
            for command in commands {
                switch command {
                case .stop:
                    session.close()
                    return
                case .listen(let channel, let continuation):
                    do {
                        try session.executeScript(Self.listenStatement(channel))
                        state.withLock { _ = $0.listening.insert(channel) }
                        continuation.resume()
                    } catch {
                        if !session.isHealthy {
                            // Keep the request; it is retried after reconnecting.
                            state.withLock { $0.commands.append(.listen(channel, continuation)) }
                            broken = true
                        } else {
                            continuation.resume(throwing: error)
                        }
                    }
                }
            }
            if broken {
                session.close()
                connection = nil
                continue
            }
            var descriptors = [
                pollfd(fd: session.socket, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&descriptors, 2, -1)
            if ready < 0 { continue }  // EINTR
            if descriptors[1].revents != 0 { drainWake() }
            if descriptors[0].revents != 0 {
                if !session.consumeInput() {
                    logger.warning("listener connection lost; reconnecting")
                    session.close()
                    connection = nil
                    continue
                }
                while let notification = session.nextNotification() {
                    deliver(.notification(channel: notification.channel, payload: notification.payload), channel: notification.channel)
                }
            }
        }
        connection?.close()
    }

    private func waitForWake(timeoutMilliseconds: Int32) {
        var descriptor = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
        _ = poll(&descriptor, 1, timeoutMilliseconds)
    }

    private func failPendingListensIfStopped() {
        let pending = state.withLock { state -> [Command] in
            guard state.stopped else { return [] }
            defer { state.commands.removeAll() }
            return state.commands
        }
        for case .listen(_, let continuation) in pending {
            continuation.resume(throwing: PostgresError(code: .poolClosed, message: "listener stopped"))
        }
    }
}
