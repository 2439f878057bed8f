import FoundationEssentials
import ServiceRuntime

/// Faults the sandbox injects into the contract calls (`/messages`, `/status`, `/replies`),
/// drawn independently per request. Rates are shares between 0 and 1 and add up to at most 1
/// (slow answers are drawn separately and delay an otherwise normal answer).
public struct FaultInjection: Codable, Sendable, Equatable {
    /// Share answered 500 without storing anything.
    public var serverErrorRate: Double
    /// Share answered 429 with `Retry-After: retryAfterSeconds`.
    public var rateLimitRate: Double
    public var retryAfterSeconds: Int
    /// Share whose connection is cut after the status line (half of them after the message was
    /// stored, so the client cannot know whether it arrived).
    public var dropRate: Double
    /// Share answered only after `slowMilliseconds`.
    public var slowRate: Double
    public var slowMilliseconds: Int

    public init(serverErrorRate: Double = 0, rateLimitRate: Double = 0, retryAfterSeconds: Int = 1, dropRate: Double = 0, slowRate: Double = 0, slowMilliseconds: Int = 2000) {
        self.serverErrorRate = serverErrorRate
        self.rateLimitRate = rateLimitRate
        self.retryAfterSeconds = retryAfterSeconds
        self.dropRate = dropRate
        self.slowRate = slowRate
        self.slowMilliseconds = slowMilliseconds
    }

    public static let none = FaultInjection()

    var isValid: Bool {
        let rates = [serverErrorRate, rateLimitRate, dropRate, slowRate]
        return rates.allSatisfy { $0 >= 0 && $0 <= 1 } && serverErrorRate + rateLimitRate + dropRate <= 1
            && retryAfterSeconds >= 0 && slowMilliseconds >= 0
    }
}

/// Configuration of the postbox sandbox.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `SANDBOX_CLIENT_ID` / `SANDBOX_CLIENT_SECRET(_FILE)` | the OAuth2 client the token endpoint accepts; each unset = any value accepted (demo) | unset |
/// | `SANDBOX_AUTH` | `on`/`off`: require bearer tokens on the contract calls | `on` |
/// | `SANDBOX_TOKEN_LIFETIME_SECONDS` | `expires_in` of issued tokens | `3600` |
/// | `SANDBOX_FAULT_500_RATE` | share of 500s | `0` |
/// | `SANDBOX_FAULT_429_RATE`, `SANDBOX_FAULT_RETRY_AFTER_SECONDS` | share of 429s and their `Retry-After` | `0`, `1` |
/// | `SANDBOX_FAULT_DROP_RATE` | share of dropped connections | `0` |
/// | `SANDBOX_FAULT_SLOW_RATE`, `SANDBOX_FAULT_SLOW_MS` | share of slow answers and their delay | `0`, `2000` |
public struct SandboxConfiguration: Sendable {
    public var requireAuth: Bool
    /// The accepted client id and secret; nil accepts any (the token flow is still required).
    public var clientID: String?
    public var clientSecret: String?
    public var tokenLifetime: Duration
    public var faults: FaultInjection

    public init(requireAuth: Bool = true, clientID: String? = nil, clientSecret: String? = nil, tokenLifetime: Duration = .seconds(3600), faults: FaultInjection = .none) {
        self.requireAuth = requireAuth
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.tokenLifetime = tokenLifetime
        self.faults = faults
    }

    public init(environment: Environment) throws {
        requireAuth = try environment.bool("SANDBOX_AUTH", default: true)
        clientID = environment["SANDBOX_CLIENT_ID"]
        clientSecret = environment["SANDBOX_CLIENT_SECRET"] == nil && environment["SANDBOX_CLIENT_SECRET_FILE"] == nil
            ? nil : try environment.secret("SANDBOX_CLIENT_SECRET")
        tokenLifetime = try environment.seconds("SANDBOX_TOKEN_LIFETIME_SECONDS", default: .seconds(3600))
        func rate(_ name: String) throws -> Double {
            guard let text = environment[name] else { return 0 }
            guard let value = Double(text), value >= 0, value <= 1 else {
                throw ConfigurationError(variable: name, problem: "must be a share between 0 and 1 (got \"\(text.prefix(20))\")")
            }
            return value
        }
        faults = FaultInjection(
            serverErrorRate: try rate("SANDBOX_FAULT_500_RATE"), rateLimitRate: try rate("SANDBOX_FAULT_429_RATE"),
            retryAfterSeconds: try environment.int("SANDBOX_FAULT_RETRY_AFTER_SECONDS", default: 1, range: 0...3600),
            dropRate: try rate("SANDBOX_FAULT_DROP_RATE"), slowRate: try rate("SANDBOX_FAULT_SLOW_RATE"),
            slowMilliseconds: try environment.int("SANDBOX_FAULT_SLOW_MS", default: 2000, range: 0...600_000))
        guard faults.isValid else {
            throw ConfigurationError(variable: "SANDBOX_FAULT_500_RATE", problem: "and the 429 and drop rates must add up to at most 1")
        }
    }
}
