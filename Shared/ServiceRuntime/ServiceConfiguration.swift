import HTTPServer
import Logging

/// What every Amtsweg service reads from its environment (DESIGN.md "Fixed names").
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `HTTP_HOST` | address to listen on | `0.0.0.0` |
/// | `HTTP_PORT` | port (0 = any free port) | the service's default |
/// | `DATABASE_URL` / `DATABASE_URL_FILE` | PostgreSQL connection URL (secret) of the services' role, which owns nothing (README, "Database roles") | required |
/// | `LOG_LEVEL` | `debug`, `info`, `warning`, `error` | `info` |
/// | `SHUTDOWN_GRACE_SECONDS` | time to finish in-flight work after SIGTERM | `25` |
/// | `HTTP_MAX_CONNECTIONS` | open-connection cap (503 past it) | `10000` |
/// | `HTTP_MAX_BODY_BYTES` | default request body limit (413 past it) | `1048576` |
/// | `HTTP_MAX_BUFFERED_BODY_BYTES` | request-body bytes held at once by the whole process (503 with `Retry-After` past it) | `100663296` (96 MiB) |
/// | `HTTP_MIN_BODY_BYTES_PER_SECOND` | slowest average body upload after a 30 s grace (408 below it) | `16384` |
public struct ServiceConfiguration: Sendable {
    public var serviceName: String
    public var httpHost: String
    public var httpPort: Int
    /// Contains a password: never log it (use ``redactedDatabaseURL``).
    public var databaseURL: String
    public var logLevel: LogLevel
    public var shutdownGracePeriod: Duration
    public var maxConnections: Int
    public var maxBodyBytes: Int
    public var minimumBodyBytesPerSecond: Int
    public var maxBufferedBodyBytes: Int

    public init(serviceName: String, defaultPort: Int, environment: Environment = Environment()) throws {
        self.serviceName = serviceName
        httpHost = try environment.string("HTTP_HOST", default: "0.0.0.0")
        httpPort = try environment.int("HTTP_PORT", default: defaultPort, range: 0...65535)
        databaseURL = try Self.checkedDatabaseURL(try environment.secret("DATABASE_URL"), variable: "DATABASE_URL")
        logLevel = try environment.logLevel()
        shutdownGracePeriod = try environment.seconds("SHUTDOWN_GRACE_SECONDS", default: .seconds(25))
        maxConnections = try environment.int("HTTP_MAX_CONNECTIONS", default: 10_000, range: 1...1_000_000)
        maxBodyBytes = try environment.int("HTTP_MAX_BODY_BYTES", default: 1024 * 1024, range: 0...(1 << 40))
        maxBufferedBodyBytes = try environment.int("HTTP_MAX_BUFFERED_BODY_BYTES", default: 96 << 20, range: 0...(1 << 40))
        minimumBodyBytesPerSecond = try environment.int("HTTP_MIN_BODY_BYTES_PER_SECOND", default: 16 * 1024, range: 1...(1 << 30))
    }

    /// `url`, if it is a `postgres://` URL or a libpq `key=value` string.
    public static func checkedDatabaseURL(_ url: String, variable: String) throws -> String {
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") || url.contains("=") else {
            throw ConfigurationError(variable: variable, problem: "must be a postgres:// URL or a libpq key=value string")
        }
        return url
    }

    /// The database URL with any password replaced by `***`, for log lines: the user-info's
    /// password (up to the last `@` before the path, so a raw `@` in it is covered), and
    /// `password=` in a query or a key=value string.
    public var redactedDatabaseURL: String { Self.redacted(databaseURL) }

    static func redacted(_ url: String) -> String {
        var text = url
        if let schemeEnd = text.firstRange(of: "://") {
            let rest = text[schemeEnd.upperBound...]
            // The authority ends at the path or query; user-info ends at its last '@'.
            let beforeQuery = rest[..<(rest.firstIndex(of: "?") ?? rest.endIndex)]
            if let at = beforeQuery.lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
                text = String(text[..<text.index(after: colon)]) + "***" + String(text[at...])
            }
        }
        // password=… in a query (…&password=x&…) or a key=value string (… password=x …).
        var result = ""
        var remainder = Substring(text)
        while let found = remainder.firstRange(of: "password=") {
            let startsField = found.lowerBound == remainder.startIndex && result.isEmpty
                || [" ", "?", "&"].contains(remainder[remainder.index(before: found.lowerBound)])
            result += remainder[..<found.upperBound]
            remainder = remainder[found.upperBound...]
            guard startsField else { continue }
            let end = remainder.firstIndex { $0 == " " || $0 == "&" } ?? remainder.endIndex
            result += "***"
            remainder = remainder[end...]
        }
        return result + remainder
    }

    /// How long in-flight work — requests, running queue jobs — may take after SIGTERM: the grace
    /// period less a margin (2 s; half the period when it is under 4 s) in which unfinished jobs
    /// are handed back and the process exits before the service group gives up.
    public var inFlightGracePeriod: Duration {
        let margin = Duration.seconds(2)
        return shutdownGracePeriod > margin * 2 ? shutdownGracePeriod - margin : shutdownGracePeriod / 2
    }

    /// The HTTP server configuration these settings imply; its grace period is
    /// ``inFlightGracePeriod``, so the server is done before the service group gives up.
    public var httpServerConfiguration: HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration(host: httpHost, port: httpPort)
        configuration.limits.maxConnections = maxConnections
        configuration.limits.maxBodyBytes = maxBodyBytes
        configuration.timeouts.minimumBodyBytesPerSecond = minimumBodyBytesPerSecond
        configuration.limits.maxBufferedBodyBytes = maxBufferedBodyBytes
        configuration.shutdownGracePeriod = inFlightGracePeriod
        return configuration
    }
}
