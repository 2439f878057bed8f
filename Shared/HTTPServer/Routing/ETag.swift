/// An entity tag (RFC 9110 §8.8.3) and the conditional-request checks built on it.
///
/// ```swift
/// let tag = ETag("v\(application.version)")
/// if context.request.isNotModified(current: tag) { return .notModified(etag: tag) }
/// try context.request.checkIfMatch(current: tag)     // 428 without If-Match, 412 on mismatch
/// ```
public struct ETag: Sendable, Hashable, CustomStringConvertible {
    /// The opaque tag without quotes.
    public var value: String
    public var isWeak: Bool

    public init(_ value: String, weak: Bool = false) {
        self.value = value
        isWeak = weak
    }

    /// The header form: `"v7"` or `W/"v7"`.
    public var headerValue: String { (isWeak ? "W/" : "") + "\"" + value + "\"" }
    public var description: String { headerValue }

    /// Parses one entity tag; nil when malformed.
    public init?(headerValue: Substring) {
        var text = headerValue.trimmingHTTPWhitespace()
        isWeak = text.hasPrefix("W/")
        if isWeak { text = text.dropFirst(2) }
        guard text.count >= 2, text.first == "\"", text.last == "\"" else { return nil }
        let inner = text.dropFirst().dropLast()
        guard !inner.contains("\"") else { return nil }
        value = String(inner)
    }

    /// A header list such as `"a", W/"b"`; `.any` for `*`; nil when absent or malformed.
    static func parseList(_ header: String?) -> ConditionList? {
        guard let header else { return nil }
        if Substring(header).trimmingHTTPWhitespace() == "*" { return .any }
        var tags: [ETag] = []
        var remaining = Substring(header)
        while !remaining.trimmingHTTPWhitespace().isEmpty {
            remaining = remaining.trimmingHTTPWhitespace()
            if remaining.first == "," { remaining = remaining.dropFirst(); continue }
            let start = remaining.hasPrefix("W/") ? remaining.index(remaining.startIndex, offsetBy: 2) : remaining.startIndex
            guard remaining[start...].first == "\"",
                  let close = remaining[remaining.index(after: start)...].firstIndex(of: "\"")
            else { return nil }
            let end = remaining.index(after: close)
            guard let tag = ETag(headerValue: remaining[..<end]) else { return nil }
            tags.append(tag)
            remaining = remaining[end...]
        }
        return .tags(tags)
    }

    enum ConditionList {
        case any
        case tags([ETag])
    }
}

extension HTTPRequest {
    /// True when `If-None-Match` matches `current` (weak comparison): answer 304.
    public func isNotModified(current: ETag) -> Bool {
        switch ETag.parseList(headers["If-None-Match"]) {
        case nil: return false
        case .any: return true
        case .tags(let tags): return tags.contains { $0.value == current.value }
        }
    }

    /// Enforces `If-Match` (strong comparison) for a write.
    /// - Throws: 428 `precondition-required` when the header is missing and `required`,
    ///   412 `precondition-failed` (with the current `ETag`) when it does not match.
    public func checkIfMatch(current: ETag, required: Bool = true) throws {
        switch ETag.parseList(headers["If-Match"]) {
        case nil:
            if headers.contains("If-Match") {
                throw HTTPError(.badRequest, code: "invalid-if-match", detail: "If-Match is not a list of entity tags.")
            }
            if required {
                throw HTTPError(.preconditionRequired, code: "precondition-required", detail: "Send If-Match with the current ETag.")
            }
        case .any:
            return
        case .tags(let tags):
            guard tags.contains(where: { !$0.isWeak && !current.isWeak && $0.value == current.value }) else {
                var headers = HTTPHeaders()
                headers.add(name: "ETag", value: current.headerValue)
                throw HTTPError(.preconditionFailed, code: "precondition-failed",
                                detail: "The resource has changed; fetch it again.", headers: headers)
            }
        }
    }
}

extension HTTPResponse {
    /// `304 Not Modified` carrying the current `ETag`.
    public static func notModified(etag: ETag) -> HTTPResponse {
        HTTPResponse(status: .notModified, headers: ["ETag": etag.headerValue])
    }
}
