import FoundationEssentials
import Synchronization

/// Settings of an OAuth 2.0 client-credentials grant (RFC 6749 §4.4).
public struct OAuth2ClientCredentialsConfiguration: Sendable {
    public var tokenURL: String
    public var clientID: String
    /// Secret: never logged.
    public var clientSecret: String
    public var scope: String?
    /// A token is used until this long before it expires, then a new one is fetched.
    public var refreshMargin: Duration

    public init(tokenURL: String, clientID: String, clientSecret: String, scope: String? = nil, refreshMargin: Duration = .seconds(30)) {
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.scope = scope
        self.refreshMargin = refreshMargin
    }
}

/// The token endpoint refused us or answered nonsense.
public struct OAuth2Error: Error, Sendable, CustomStringConvertible {
    /// HTTP status (0: no response).
    public var status: Int
    public var message: String
    /// 5xx, 429 or no response: worth retrying later.
    public var isTransient: Bool { status == 0 || status == 429 || status >= 500 }
    public var description: String { "OAuth2 token request failed (\(status)): \(message)" }
}

/// Fetches access tokens with client credentials (HTTP Basic client authentication) and caches
/// one until shortly before it expires. Concurrent callers share one fetch. A caller that got a
/// 401 with a token calls ``invalidate(_:)`` and asks again.
public final class OAuth2ClientCredentials: Sendable {
    public let configuration: OAuth2ClientCredentialsConfiguration
    private let client: HTTPClient

    private struct Cached {
        var token: String
        var refreshAt: ContinuousClock.Instant
    }

    private struct State {
        var cached: Cached?
        var pending: Task<Cached, Error>?
        var fetched = 0
    }

    private let state = Mutex(State())

    public init(_ configuration: OAuth2ClientCredentialsConfiguration, client: HTTPClient) {
        self.configuration = configuration
        self.client = client
    }

    /// Tokens fetched from the endpoint so far.
    public var tokensFetched: Int { state.withLock { $0.fetched } }

    /// A valid access token, from the cache or freshly fetched.
    public func token() async throws -> String {
        let task = state.withLock { state -> Task<Cached, Error>? in
            if let cached = state.cached, ContinuousClock.now < cached.refreshAt { return nil }
            if let pending = state.pending { return pending }
            let task = Task { try await self.fetch() }
            state.pending = task
            return task
        }
        guard let task else {
            if let token = state.withLock({ $0.cached?.token }) { return token }
            return try await self.token()
        }
        do {
            let fresh = try await task.value
            state.withLock { state in
                state.cached = fresh
                if state.pending == task { state.pending = nil }
            }
            return fresh.token
        } catch {
            state.withLock { state in if state.pending == task { state.pending = nil } }
            throw error
        }
    }

    /// Forgets `token` if it is the cached one (the server said 401 to it).
    public func invalidate(_ token: String) {
        state.withLock { state in if state.cached?.token == token { state.cached = nil } }
    }

    private struct TokenResponse: Decodable {
        var access_token: String
        var token_type: String?
        var expires_in: Double?
    }

    private func fetch() async throws -> Cached {
        var form = "grant_type=client_credentials"
        if let scope = configuration.scope { form += "&scope=" + FormEncoding.encode(scope) }
        let credentials = FormEncoding.encode(configuration.clientID) + ":" + FormEncoding.encode(configuration.clientSecret)
        let basic = Data(credentials.utf8).base64EncodedString()
        let started = ContinuousClock.now
        let response: HTTPClientResponse
        do {
            response = try await client.send(.post, configuration.tokenURL, headers: [
                ("Authorization", "Basic " + basic),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "application/json"),
            ], body: Array(form.utf8))
        } catch {
            throw OAuth2Error(status: 0, message: error.message)
        }
        guard response.status == 200 else {
            throw OAuth2Error(status: response.status, message: String(response.bodyText.prefix(300)))
        }
        guard let body = try? JSONDecoder().decode(TokenResponse.self, from: Data(response.body)), !body.access_token.isEmpty else {
            throw OAuth2Error(status: response.status, message: "token response is not JSON with access_token")
        }
        if let type = body.token_type, type.lowercased() != "bearer" {
            throw OAuth2Error(status: response.status, message: "token_type \(type) is not bearer")
        }
        state.withLock { $0.fetched += 1 }
        let lifetime = Duration.milliseconds(Int64((body.expires_in ?? 300) * 1000))
        // Short-lived tokens: refresh at half their life rather than never using them.
        let margin = min(configuration.refreshMargin, lifetime / 2)
        return Cached(token: body.access_token, refreshAt: started + lifetime - margin)
    }
}

/// `application/x-www-form-urlencoded` escaping (RFC 6749 Appendix B).
enum FormEncoding {
    static func encode(_ text: String) -> String {
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
