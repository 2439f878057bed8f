/// Why the server refused a request before any responder saw it. The connection is closed after
/// the error response, since the framing of what follows cannot be trusted.
public struct HTTPProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPStatus
    /// A stable, machine-readable code, e.g. `obsolete-line-folding`.
    public var code: String
    /// A short explanation safe to send to the client (never contains request bytes).
    public var detail: String
    /// Sent as `Retry-After` when the client may simply try again later.
    public var retryAfterSeconds: Int?

    public init(status: HTTPStatus, code: String, detail: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.detail = detail
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(status.code) \(code): \(detail)" }

    static let bareLineFeed = Self(status: .badRequest, code: "bare-line-feed", detail: "Lines must end with CRLF.")
    static let malformedRequestLine = Self(status: .badRequest, code: "malformed-request-line", detail: "The request line is not 'METHOD target HTTP/x.y'.")
    static let invalidMethod = Self(status: .badRequest, code: "invalid-method", detail: "The method is not a valid token.")
    static let invalidTarget = Self(status: .badRequest, code: "invalid-request-target", detail: "The request target must be an absolute path (or '*').")
    static let unsupportedVersion = Self(status: .httpVersionNotSupported, code: "unsupported-http-version", detail: "Only HTTP/1.0 and HTTP/1.1 are served.")
    static let requestLineTooLong = Self(status: .uriTooLong, code: "request-line-too-long", detail: "The request line exceeds the limit.")
    static let headerBlockTooLarge = Self(status: .requestHeaderFieldsTooLarge, code: "header-block-too-large", detail: "The header block exceeds the limit.")
    static let tooManyHeaderFields = Self(status: .requestHeaderFieldsTooLarge, code: "too-many-header-fields", detail: "The request has too many header fields.")
    static let obsoleteLineFolding = Self(status: .badRequest, code: "obsolete-line-folding", detail: "Header values must not be folded across lines.")
    static let invalidHeaderName = Self(status: .badRequest, code: "invalid-header-name", detail: "A header field name is not a valid token.")
    static let invalidHeaderValue = Self(status: .badRequest, code: "invalid-header-value", detail: "A header field value contains a forbidden character.")
    static let missingOrDuplicateHost = Self(status: .badRequest, code: "invalid-host", detail: "An HTTP/1.1 request needs exactly one Host header.")
    static let duplicateAuthorization = Self(status: .badRequest, code: "duplicate-authorization", detail: "Send one Authorization header.")
    static let duplicateContentLength = Self(status: .badRequest, code: "duplicate-content-length", detail: "Content-Length must appear once.")
    static let invalidContentLength = Self(status: .badRequest, code: "invalid-content-length", detail: "Content-Length must be a decimal number.")
    static let contentLengthWithTransferEncoding = Self(status: .badRequest, code: "content-length-with-transfer-encoding", detail: "Content-Length and Transfer-Encoding must not both be sent.")
    static let invalidTransferEncoding = Self(status: .badRequest, code: "invalid-transfer-encoding", detail: "Transfer-Encoding must end with a single 'chunked'.")
    static let unknownTransferCoding = Self(status: .notImplemented, code: "unknown-transfer-coding", detail: "Only the 'chunked' transfer coding is supported.")
    static let unsupportedExpectation = Self(status: .expectationFailed, code: "unsupported-expectation", detail: "Only 'Expect: 100-continue' is supported.")
    static let invalidChunkSize = Self(status: .badRequest, code: "invalid-chunk-size", detail: "A chunk size is not a valid hexadecimal number.")
    static let invalidChunkFraming = Self(status: .badRequest, code: "invalid-chunk-framing", detail: "Chunk data must be followed by CRLF.")
    static let trailersTooLarge = Self(status: .badRequest, code: "trailers-too-large", detail: "The trailer section exceeds the header limit.")
    static let bodyTooLarge = Self(status: .contentTooLarge, code: "body-too-large", detail: "The request body exceeds the limit for this resource.")
    /// The process holds as many request bodies as ``HTTPServerLimits/maxBufferedBodyBytes``
    /// allows; answered with `Retry-After`.
    static let bodyCapacity = Self(
        status: .serviceUnavailable, code: "body-capacity", detail: "The server is holding as many request bodies as it may; retry shortly.",
        retryAfterSeconds: 1)
    static let requestTimeout = Self(status: .requestTimeout, code: "request-timeout", detail: "The request did not arrive in time.")
}
