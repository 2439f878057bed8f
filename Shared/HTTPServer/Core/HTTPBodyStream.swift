/// A response body written piece by piece while it is sent, with backpressure: ``HTTPBodyWriter/write(_:)``
/// suspends while the client is slow, so a large download never sits in memory whole.
///
/// ```swift
/// return HTTPResponse(headers: ["Content-Type": "application/pdf"],
///                     stream: HTTPBodyStream(contentLength: size) { writer in
///     for try await piece in attachment.pieces() { try await writer.write(piece) }
/// })
/// ```
///
/// With `contentLength` the body is sent with `Content-Length` and must be exactly that long;
/// without it, with chunked transfer coding (HTTP/1.0 clients: until the connection closes).
/// If the producer throws, or the length does not match, the connection is cut: the status has
/// already been sent, so a truncated body is the only honest signal left.
public struct HTTPBodyStream: Sendable {
    public let contentLength: Int?
    let produce: @Sendable (HTTPBodyWriter) async throws -> Void

    public init(contentLength: Int? = nil, _ produce: @escaping @Sendable (HTTPBodyWriter) async throws -> Void) {
        precondition((contentLength ?? 0) >= 0, "negative content length")
        self.contentLength = contentLength
        self.produce = produce
    }
}

/// Writes the pieces of a streamed body. Obtained only inside ``HTTPBodyStream``'s closure.
public struct HTTPBodyWriter: Sendable {
    /// The client is gone (or the server stopped); stop producing.
    public struct ConnectionClosed: Error, Sendable {}

    let send: @Sendable ([UInt8]) async -> Bool

    /// Sends `bytes`; suspends while too much is still unsent.
    /// - Throws: ``ConnectionClosed`` when the client has gone away (or more bytes were written
    ///   than the declared `contentLength`).
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        guard await send(bytes) else { throw ConnectionClosed() }
    }
}
