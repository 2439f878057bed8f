/// What the server knows once a request's head has been read: enough to choose a route and its
/// body limit before any body byte is accepted.
public struct HTTPRequestHead: Sendable {
    public var method: HTTPMethod
    /// The request target exactly as sent (origin form, e.g. `/v1/items?limit=10`).
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders

    public init(method: HTTPMethod, target: String, version: HTTPVersion, headers: HTTPHeaders) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }

    /// The path part of the target (before `?`), still percent-encoded.
    public var path: Substring {
        target.firstIndex(of: "?").map { target[..<$0] } ?? target[...]
    }

    /// The raw query string after `?`, if any.
    public var query: Substring? {
        target.firstIndex(of: "?").map { target[target.index(after: $0)...] }
    }
}

/// A complete request handed to a responder: head, body and the request id.
public struct HTTPRequest: Sendable {
    public var head: HTTPRequestHead
    /// The whole body (already de-chunked), at most the route's body limit.
    public var body: [UInt8]
    /// The request id the server made: sent back as `X-Request-Id`, in every log line and audit
    /// entry about this request.
    public var requestID: String
    /// The client's own `X-Request-Id` when it sent a sane one: its correlation id, logged beside
    /// ours (`client_request_id`), never in our id's place.
    public var clientRequestID: String?
    /// Who the responder's ``Admitter`` authenticated from the head, before the body was read
    /// (nil when nothing was admitted that way).
    public var principal: (any Sendable)?

    public init(
        head: HTTPRequestHead, body: [UInt8] = [], requestID: String = RequestID.generate(), clientRequestID: String? = nil,
        principal: (any Sendable)? = nil
    ) {
        self.head = head
        self.body = body
        self.requestID = requestID
        self.clientRequestID = clientRequestID
        self.principal = principal
    }

    public var method: HTTPMethod { head.method }
    public var target: String { head.target }
    public var path: Substring { head.path }
    public var version: HTTPVersion { head.version }
    public var headers: HTTPHeaders { head.headers }

    /// The query parameters, percent-decoded; for a repeated name the last value wins.
    public var queryParameters: [String: String] {
        guard let query = head.query else { return [:] }
        var result: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = PercentDecoding.decode(parts[0], plusAsSpace: true) ?? String(parts[0])
            let value = parts.count > 1 ? (PercentDecoding.decode(parts[1], plusAsSpace: true) ?? String(parts[1])) : ""
            result[name] = value
        }
        return result
    }
}

/// Percent-decoding of path segments and query components (RFC 3986 §2.1).
public enum PercentDecoding {
    /// The decoded text, or nil when an escape is malformed or the result is not UTF-8.
    public static func decode(_ text: Substring, plusAsSpace: Bool = false) -> String? {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(text)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else if plusAsSpace && byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
