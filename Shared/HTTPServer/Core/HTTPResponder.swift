/// Answers requests. The ``Router`` is the usual responder; tests may use ``ClosureResponder``.
public protocol HTTPResponder: Sendable {
    /// The largest body accepted for a request with this head; nil means the server's default
    /// (``HTTPServerLimits/maxBodyBytes``). Called on the server's event-loop thread before any
    /// body byte is read: it must be quick and must not block.
    func bodyLimit(for head: HTTPRequestHead) -> Int?

    /// How to admit a request with this head before any body byte is read, or nil to read the
    /// body straight away. Called on the event-loop thread for requests that carry a body: it
    /// must be quick (a route lookup); the returned ``Admitter`` runs as a task, and until it
    /// answers the connection reads nothing past the head (and sends no `100 Continue`).
    func admitter(for head: HTTPRequestHead) -> Admitter?

    /// The response to a complete request. May suspend for as long as it needs (long-polls);
    /// it holds no thread while suspended. Must not throw: a responder turns errors into responses.
    ///
    /// The task is cancelled when the client closes the connection before the answer, and when
    /// the shutdown grace period ends; long waits should be cancellable (`Task.sleep`, etc.).
    func respond(to request: HTTPRequest) async -> HTTPResponse
}

extension HTTPResponder {
    public func bodyLimit(for head: HTTPRequestHead) -> Int? { nil }
    public func admitter(for head: HTTPRequestHead) -> Admitter? { nil }
}

/// A responder made of one closure.
public struct ClosureResponder: HTTPResponder {
    private let handler: @Sendable (HTTPRequest) async -> HTTPResponse

    public init(_ handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) {
        self.handler = handler
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse { await handler(request) }
}

/// Decides from a request's head (and its request id) whether its body is read at all.
public typealias Admitter = @Sendable (_ head: HTTPRequestHead, _ requestID: String) async -> Admission

/// What an ``Admitter`` decided.
public enum Admission: Sendable {
    /// Read the body and answer the request; `principal` (who authenticated) reaches the
    /// responder as ``HTTPRequest/principal``.
    case admitted(principal: (any Sendable)?)
    /// Answer this without reading the body, then half-close the connection and drain it
    /// briefly, so the client reads the answer rather than a reset.
    case refused(HTTPResponse)
}
