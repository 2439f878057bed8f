import FoundationEssentials
import HTTPClient
import Lease

/// Why a call to the postbox did not succeed.
public struct PostboxError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// 5xx, 429, 408, no response, a token problem: try again later.
        case transient
        /// Any other 4xx: this request will never succeed.
        case permanent
        /// The call's deadline passed before the request was sent: it was not sent.
        case leaseLost
    }

    public var kind: Kind
    /// HTTP status (nil: no response).
    public var status: Int?
    /// The server's `Retry-After`.
    public var retryAfter: Duration?
    /// For people: status and the server's problem detail; never message content.
    public var reason: String

    public init(kind: Kind, status: Int? = nil, retryAfter: Duration? = nil, reason: String) {
        self.kind = kind
        self.status = status
        self.retryAfter = retryAfter
        self.reason = reason
    }

    public var description: String { reason }
}

/// Settings of the postbox API client.
public struct ServicekontoClientConfiguration: Sendable {
    /// Base URL of the contract, e.g. `https://postbox.example/api/v1` (no trailing slash).
    public var baseURL: String
    /// OAuth2 client credentials; nil = no Authorization header (sandbox without auth).
    public var credentials: OAuth2ClientCredentialsConfiguration?
    public var http: HTTPClientConfiguration

    public init(baseURL: String, credentials: OAuth2ClientCredentialsConfiguration?, http: HTTPClientConfiguration = HTTPClientConfiguration()) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.credentials = credentials
        self.http = http
    }
}

/// The contract's three calls over one keep-alive ``HTTPClient``, with bearer tokens from the
/// client-credentials grant (cached; a 401 fetches a new token and tries once more).
public final class ServicekontoClient: Sendable {
    public let configuration: ServicekontoClientConfiguration
    public let http: HTTPClient
    public let tokens: OAuth2ClientCredentials?

    public init(_ configuration: ServicekontoClientConfiguration) {
        self.configuration = configuration
        let http = HTTPClient(configuration.http)
        self.http = http
        tokens = configuration.credentials.map { OAuth2ClientCredentials($0, client: http) }
    }

    public func shutdown() { http.shutdown() }

    /// `POST /messages`; not sent once `deadline` has passed (`.leaseLost`).
    public func deliver(_ message: PostboxMessage, before deadline: LeaseDeadline? = nil) async throws(PostboxError) -> PostboxReceipt {
        try await postJSON("/messages", message, before: deadline)
    }

    /// `POST /status`; not sent once `deadline` has passed (`.leaseLost`).
    public func deliver(_ status: PostboxStatusUpdate, before deadline: LeaseDeadline? = nil) async throws(PostboxError) -> PostboxReceipt {
        try await postJSON("/status", status, before: deadline)
    }

    /// `GET /replies?after=<cursor>&limit=<limit>`.
    public func replies(after cursor: String?, limit: Int = 100) async throws(PostboxError) -> PostboxReplyPage {
        var path = "/replies?limit=\(limit)"
        if let cursor { path += "&after=" + Self.queryEscape(cursor) }
        let response = try await call(.get, path, body: nil)
        guard response.status == 200 else { throw Self.failure(response, call: "GET /replies") }
        do {
            return try JSONDecoder().decode(PostboxReplyPage.self, from: Data(response.body))
        } catch {
            throw PostboxError(kind: .transient, status: response.status, reason: "GET /replies: answer is not a reply page")
        }
    }

    private func postJSON<Body: Encodable>(_ path: String, _ value: Body, before deadline: LeaseDeadline?) async throws(PostboxError) -> PostboxReceipt {
        let body: [UInt8]
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            body = Array(try encoder.encode(value))
        } catch {
            throw PostboxError(kind: .permanent, reason: "request cannot be encoded as JSON")
        }
        let response = try await call(.post, path, body: body, before: deadline)
        guard response.status == 200 || response.status == 201 else { throw Self.failure(response, call: "POST \(path)") }
        do {
            return try JSONDecoder().decode(PostboxReceipt.self, from: Data(response.body))
        } catch {
            // Accepted but unreadable: delivering again is safe (deduplicated by id).
            throw PostboxError(kind: .transient, status: response.status, reason: "POST \(path): \(response.status) with an unreadable receipt")
        }
    }

    private func call(_ method: HTTPRequestMethod, _ path: String, body: [UInt8]?, before deadline: LeaseDeadline? = nil) async throws(PostboxError) -> HTTPClientResponse {
        let url = configuration.baseURL + path
        var retriedAfter401 = false
        while true {
            var headers: [(String, String)] = [("Accept", "application/json")]
            if body != nil { headers.append(("Content-Type", "application/json")) }
            var token: String?
            if let tokens {
                do { token = try await tokens.token() } catch {
                    throw PostboxError(kind: .transient, reason: "no access token: \(error)")
                }
                headers.append(("Authorization", "Bearer " + token!))
            }
            let response: HTTPClientResponse
            do {
                response = try await http.send(method, url, headers: headers, body: body, before: deadline)
            } catch where error.kind == .leaseLost {
                throw PostboxError(kind: .leaseLost, reason: "\(method.rawValue) \(path): \(error.message)")
            } catch {
                throw PostboxError(kind: .transient, reason: "\(method.rawValue) \(path.prefix(while: { $0 != "?" })): \(error.message)")
            }
            if response.status == 401, let tokens, let token, !retriedAfter401 {
                // Expired or revoked early: one more try with a fresh token.
                tokens.invalidate(token)
                retriedAfter401 = true
                continue
            }
            return response
        }
    }

    private struct ProblemBody: Decodable {
        var title: String?
        var detail: String?
        var code: String?
    }

    static func failure(_ response: HTTPClientResponse, call: String) -> PostboxError {
        let problem = try? JSONDecoder().decode(ProblemBody.self, from: Data(response.body))
        var reason = "\(call): HTTP \(response.status)"
        if let text = problem?.detail ?? problem?.title { reason += " — " + String(text.prefix(500)) }
        let status = response.status
        let transient = status >= 500 || status == 429 || status == 408 || status == 401 || status < 200
        return PostboxError(kind: transient ? .transient : .permanent, status: status, retryAfter: response.retryAfter, reason: reason)
    }

    static func queryEscape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }
}
