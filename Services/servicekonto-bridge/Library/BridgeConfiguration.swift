import FoundationEssentials
import HTTPClient
import JobQueue
import Servicekonto
import ServiceRuntime

/// Configuration of servicekonto-bridge.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `SERVICEKONTO_URL` | base URL of the postbox contract (`…/messages`, `…/status`, `…/replies`) | required |
/// | `SERVICEKONTO_TOKEN_URL` | OAuth2 token endpoint (client credentials); unset = no Authorization header | unset |
/// | `SERVICEKONTO_CLIENT_ID`, `SERVICEKONTO_CLIENT_SECRET(_FILE)` | OAuth2 client | required with a token URL |
/// | `SERVICEKONTO_SCOPE` | OAuth2 scope | unset |
/// | `SERVICEKONTO_CA_FILE` | PEM CA bundle for the postbox's certificate | system bundle |
/// | `SERVICEKONTO_CLIENT_CERT_FILE`, `SERVICEKONTO_CLIENT_KEY_FILE` | PEM client certificate and key (mTLS) | unset |
/// | `SERVICEKONTO_CONNECTIONS` | kept-alive connections (= requests in flight) | `16` |
/// | `SERVICEKONTO_CONNECT_TIMEOUT_SECONDS`, `SERVICEKONTO_TIMEOUT_SECONDS` | timeouts | `5`, `30` |
/// | `BRIDGE_CONCURRENCY` | outbox jobs handled at once | `32` |
/// | `BRIDGE_BACKOFF_BASE_SECONDS`, `BRIDGE_BACKOFF_MAX_SECONDS` | retry backoff of failed deliveries | `2`, `900` |
/// | `BRIDGE_LEASE_SECONDS` | how long a claim holds an outbox job before another replica may take it | `60` |
/// | `BRIDGE_ORDER_WAIT_SECONDS` | how long a message waits for earlier queued messages of its application | `600` |
/// | `REPLY_POLLING` | poll `GET /replies` | `true` |
/// | `REPLY_POLL_INTERVAL_SECONDS`, `REPLY_PAGE_SIZE` | polling | `10`, `100` |
/// | `DATABASE_POOL_SIZE`, `MIGRATE_ON_START` | database (see `DatabaseSettings`) | `16`, `true` |
public struct BridgeConfiguration: Sendable {
    public var client: ServicekontoClientConfiguration
    public var concurrency: Int
    public var backoff: BackoffPolicy
    public var orderWait: Duration
    public var replyPolling: Bool
    public var replyPollInterval: Duration
    public var replyPageSize: Int
    /// Re-defer interval for a message waiting on an earlier one of its application.
    public var orderRecheck: Duration
    public var leaseDuration: Duration
    public var pollInterval: Duration

    public init(
        client: ServicekontoClientConfiguration, concurrency: Int = 32, backoff: BackoffPolicy = BackoffPolicy(base: .seconds(2), maximum: .seconds(900)),
        orderWait: Duration = .seconds(600), replyPolling: Bool = true, replyPollInterval: Duration = .seconds(10), replyPageSize: Int = 100,
        orderRecheck: Duration = .milliseconds(200), leaseDuration: Duration = .seconds(60), pollInterval: Duration = .seconds(5)
    ) {
        self.client = client
        self.concurrency = concurrency
        self.backoff = backoff
        self.orderWait = orderWait
        self.replyPolling = replyPolling
        self.replyPollInterval = replyPollInterval
        self.replyPageSize = replyPageSize
        self.orderRecheck = orderRecheck
        self.leaseDuration = leaseDuration
        self.pollInterval = pollInterval
    }

    public init(environment: Environment) throws {
        let url = try environment.string("SERVICEKONTO_URL")
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
            throw ConfigurationError(variable: "SERVICEKONTO_URL", problem: "must be an http:// or https:// URL")
        }
        var credentials: OAuth2ClientCredentialsConfiguration?
        if let tokenURL = environment["SERVICEKONTO_TOKEN_URL"] {
            credentials = OAuth2ClientCredentialsConfiguration(
                tokenURL: tokenURL, clientID: try environment.string("SERVICEKONTO_CLIENT_ID"),
                clientSecret: try environment.secret("SERVICEKONTO_CLIENT_SECRET"), scope: environment["SERVICEKONTO_SCOPE"])
        }
        let certificate = environment["SERVICEKONTO_CLIENT_CERT_FILE"]
        let key = environment["SERVICEKONTO_CLIENT_KEY_FILE"]
        if (certificate == nil) != (key == nil) {
            throw ConfigurationError(variable: "SERVICEKONTO_CLIENT_CERT_FILE", problem: "and SERVICEKONTO_CLIENT_KEY_FILE must be set together")
        }
        let http = HTTPClientConfiguration(
            connections: try environment.int("SERVICEKONTO_CONNECTIONS", default: 16, range: 1...256),
            connectTimeout: try environment.seconds("SERVICEKONTO_CONNECT_TIMEOUT_SECONDS", default: .seconds(5)),
            requestTimeout: try environment.seconds("SERVICEKONTO_TIMEOUT_SECONDS", default: .seconds(30)),
            caFile: environment["SERVICEKONTO_CA_FILE"], clientCertificateFile: certificate, clientKeyFile: key)
        self.init(
            client: ServicekontoClientConfiguration(baseURL: url, credentials: credentials, http: http),
            concurrency: try environment.int("BRIDGE_CONCURRENCY", default: 32, range: 1...1000),
            backoff: BackoffPolicy(
                base: try environment.seconds("BRIDGE_BACKOFF_BASE_SECONDS", default: .seconds(2)),
                maximum: try environment.seconds("BRIDGE_BACKOFF_MAX_SECONDS", default: .seconds(900))),
            orderWait: try environment.seconds("BRIDGE_ORDER_WAIT_SECONDS", default: .seconds(600)),
            replyPolling: try environment.bool("REPLY_POLLING", default: true),
            replyPollInterval: try environment.seconds("REPLY_POLL_INTERVAL_SECONDS", default: .seconds(10)),
            replyPageSize: try environment.int("REPLY_PAGE_SIZE", default: 100, range: 1...PostboxLimits.maxRepliesPerPage),
            leaseDuration: .seconds(try environment.int("BRIDGE_LEASE_SECONDS", default: 60, range: 1...3600)))
    }
}
