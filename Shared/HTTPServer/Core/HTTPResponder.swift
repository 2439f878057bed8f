/// Answers requests. The ``Router`` is the usual responder; tests may use ``ClosureResponder``.
public protocol HTTPResponder: Sendable {
    /// The largest body accepted for a request with this head; nil means the server's default
    /// (``HTTPServerLimits/maxBodyBytes``). Called on the server's event-loop thread before any
    /// body byte is read: it must be quick and must not block.
    func bodyLimit(for head: HTTPRequestHead) -> Int?

    /// The response to a complete request. May suspend for as long as it needs (long-polls);
    /// it holds no thread while suspended. Must not throw: a responder turns errors into responses.
    ///
    /// The task is cancelled when the client closes the connection before the answer, and when
    /// the shutdown grace period ends; long waits should be cancellable (`Task.sleep`, etc.).
    func respond(to request: HTTPRequest) async -> HTTPResponse
}

extension HTTPResponder {
    public func bodyLimit(for head: HTTPRequestHead) -> Int? { nil }
}

/// A responder made of one closure.
public struct ClosureResponder: HTTPResponder {
    private let handler: @Sendable (HTTPRequest) async -> HTTPResponse

    public init(_ handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) {
        self.handler = handler
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse { await handler(request) }
}
