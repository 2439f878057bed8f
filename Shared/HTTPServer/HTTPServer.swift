#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Metrics
import Synchronization

/// An HTTP/1.1 server on non-blocking sockets and epoll.
///
/// One thread of its own waits in `epoll_wait` and does all socket I/O and parsing; responders
/// run as tasks on Swift's cooperative pool, so a connection waiting on a slow responder (a
/// long-poll) costs memory, not a thread. See ``HTTPServerLimits`` and ``HTTPServerTimeouts``
/// for what it enforces.
///
/// ```swift
/// let server = try HTTPServer(configuration: .init(port: 8081), logger: logger, responder: router)
/// try server.start()
/// …
/// await server.shutdown()          // stop accepting, finish in-flight requests, close
/// ```
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    private let logger: Logger
    private let responder: any HTTPResponder
    private let metrics: ServerMetrics?
    private let loop = Mutex<ServerLoop?>(nil)

    /// - Parameters:
    ///   - metrics: when given, connection gauges and counters are registered there.
    public init(
        configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        logger: Logger,
        metrics: MetricsRegistry? = nil,
        responder: any HTTPResponder
    ) {
        self.configuration = configuration
        self.logger = logger
        self.responder = responder
        self.metrics = metrics.map(ServerMetrics.init(registry:))
    }

    /// Binds the listening socket and starts the event loop. Throws when the address cannot be
    /// bound. Calling it twice is a programming error.
    public func start() throws {
        signal(SIGPIPE, SIG_IGN)
        let newLoop = try ServerLoop(configuration: configuration, logger: logger, responder: responder, metrics: metrics)
        try loop.withLock { current in
            guard current == nil else { throw HTTPServerStartError(description: "server already started") }
            current = newLoop
        }
        newLoop.start()
        logger.info("http server listening", ["host": configuration.host, "port": String(newLoop.port)])
    }

    /// The bound port (useful with port 0); nil before ``start()``.
    public var port: Int? { loop.withLock { $0?.port } }

    /// Graceful shutdown: closes the listening socket (new connections are refused) and idle
    /// connections, lets in-flight requests finish and answers them with `Connection: close`,
    /// and cuts whatever is left after ``HTTPServerConfiguration/shutdownGracePeriod``.
    /// Returns when every socket is closed.
    public func shutdown() async {
        guard let current = loop.withLock({ $0 }) else { return }
        current.post(.shutdown)
        await current.waitUntilStopped()
    }

    /// Returns when the server has stopped (after ``shutdown()``).
    public func waitUntilStopped() async {
        guard let current = loop.withLock({ $0 }) else { return }
        await current.waitUntilStopped()
    }

    /// Starts a server, runs `body` with it, and shuts it down when `body` returns or throws.
    public static func withRunningServer<Value: Sendable>(
        configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        logger: Logger,
        metrics: MetricsRegistry? = nil,
        responder: any HTTPResponder,
        _ body: (HTTPServer) async throws -> Value
    ) async throws -> Value {
        let server = HTTPServer(configuration: configuration, logger: logger, metrics: metrics, responder: responder)
        try server.start()
        do {
            let result = try await body(server)
            await server.shutdown()
            return result
        } catch {
            await server.shutdown()
            throw error
        }
    }
}
