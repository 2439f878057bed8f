/// A response: status, header fields and a body, held in memory or streamed.
///
/// The server adds `Content-Length` (or `Transfer-Encoding: chunked` for a stream of unknown
/// length), `Date`, `X-Request-Id` and, when it closes the connection, `Connection: close`;
/// a responder sets everything else.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    /// The body, when it is held in memory. Ignored when ``bodyStream`` is set.
    public var body: [UInt8]
    /// A body produced while it is sent (large downloads), instead of ``body``.
    public var bodyStream: HTTPBodyStream?

    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response whose body is written by `stream` as it is sent.
    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders(), stream: HTTPBodyStream) {
        self.status = status
        self.headers = headers
        self.body = []
        self.bodyStream = stream
    }

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ text: String, status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array(text.utf8))
    }
}
