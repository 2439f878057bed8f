/// Every size limit the server enforces, in one place. Each has the status it answers with.
///
/// The defaults are the service defaults; a route may raise or lower the body limit
/// (see ``HTTPResponder/bodyLimit(for:)``).
public struct HTTPServerLimits: Sendable {
    /// Longest request line (`GET /path HTTP/1.1`) in bytes, CRLF included. Past it: 414.
    public var maxRequestLineBytes: Int = 8 * 1024
    /// Longest header block in bytes (all field lines and their CRLFs, request line excluded).
    /// Past it: 431. Also bounds the trailer section of a chunked body (400 there).
    public var maxHeaderBytes: Int = 64 * 1024
    /// Most header fields in one request. Past it: 431.
    public var maxHeaderFields: Int = 100
    /// Default largest request body in bytes, after de-chunking. Past it: 413.
    public var maxBodyBytes: Int = 1024 * 1024
    /// Most open client connections. A connection past it gets a 503 and is closed.
    public var maxConnections: Int = 10_000
    /// Most request-body bytes the process buffers at once, over all connections: from a body's
    /// declared length (chunked: as it grows) until its response is out. A body that would pass
    /// it is answered 503 with `Retry-After` before it is buffered. Peak memory for bodies is
    /// this plus what handlers make of them.
    public var maxBufferedBodyBytes: Int = 96 * 1024 * 1024

    public init(
        maxRequestLineBytes: Int = 8 * 1024,
        maxHeaderBytes: Int = 64 * 1024,
        maxHeaderFields: Int = 100,
        maxBodyBytes: Int = 1024 * 1024,
        maxConnections: Int = 10_000,
        maxBufferedBodyBytes: Int = 96 * 1024 * 1024
    ) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderFields = maxHeaderFields
        self.maxBodyBytes = maxBodyBytes
        self.maxConnections = maxConnections
        self.maxBufferedBodyBytes = maxBufferedBodyBytes
    }
}

/// Every timeout the server enforces, in one place. A connection that runs out of one is closed
/// (after a 408 when the client was in the middle of sending a request).
public struct HTTPServerTimeouts: Sendable {
    /// From accepting a connection, or from the first byte of a later request, until the whole
    /// request head has arrived. Defeats slowloris clients.
    public var requestHead: Duration = .seconds(10)
    /// A request body must arrive at ``minimumBodyBytesPerSecond`` or faster, averaged from its
    /// start, once this grace has passed: the body's deadline is its start + `bodyGrace` +
    /// bytes received / minimum rate, so a byte buys its own share of time, never a whole new
    /// timeout. Past it: 408.
    public var bodyGrace: Duration = .seconds(30)
    /// The minimum average rate of a request body after ``bodyGrace`` (16 KiB/s: a 32 MiB
    /// upload may take 30 s + 34 min; a body trickling a byte every few seconds is cut off
    /// after 30 s).
    public var minimumBodyBytesPerSecond: Int = 16 * 1024
    /// How long a kept-alive connection may wait for its next request.
    public var keepAliveIdle: Duration = .seconds(60)
    /// Longest pause while the client does not read the response we are writing.
    public var writeStall: Duration = .seconds(30)
    /// After an error response, how long unread client bytes are drained before closing, so the
    /// client sees the response instead of a reset.
    public var lingeringClose: Duration = .seconds(2)

    public init(
        requestHead: Duration = .seconds(10),
        bodyGrace: Duration = .seconds(30),
        minimumBodyBytesPerSecond: Int = 16 * 1024,
        keepAliveIdle: Duration = .seconds(60),
        writeStall: Duration = .seconds(30),
        lingeringClose: Duration = .seconds(2)
    ) {
        self.requestHead = requestHead
        self.bodyGrace = bodyGrace
        self.minimumBodyBytesPerSecond = max(1, minimumBodyBytesPerSecond)
        self.keepAliveIdle = keepAliveIdle
        self.writeStall = writeStall
        self.lingeringClose = lingeringClose
    }
}

/// Where the server listens and how it behaves; every field has a default.
public struct HTTPServerConfiguration: Sendable {
    /// Address to bind: an IPv4 or IPv6 literal or a host name (`0.0.0.0`, `127.0.0.1`, `::`).
    public var host: String = "0.0.0.0"
    /// Port to bind; 0 picks a free port (read it back from ``HTTPServer/port``).
    public var port: Int = 8080
    /// Listen backlog.
    public var backlog: Int32 = 1024
    public var limits = HTTPServerLimits()
    public var timeouts = HTTPServerTimeouts()
    /// On shutdown, how long in-flight requests may take before their connections are cut.
    public var shutdownGracePeriod: Duration = .seconds(20)

    public init(
        host: String = "0.0.0.0",
        port: Int = 8080,
        backlog: Int32 = 1024,
        limits: HTTPServerLimits = HTTPServerLimits(),
        timeouts: HTTPServerTimeouts = HTTPServerTimeouts(),
        shutdownGracePeriod: Duration = .seconds(20)
    ) {
        self.host = host
        self.port = port
        self.backlog = backlog
        self.limits = limits
        self.timeouts = timeouts
        self.shutdownGracePeriod = shutdownGracePeriod
    }
}

extension Duration {
    /// Whole nanoseconds, saturating.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (product, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product &+ UInt64(attoseconds / 1_000_000_000)
    }
}
