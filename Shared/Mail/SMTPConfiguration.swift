import ServiceRuntime

/// How mail leaves the process. Read it from the environment with ``init(environment:)``.
///
/// | Variable | Meaning | Default |
/// |---|---|---|
/// | `SMTP_URL` | `smtp://host:587`, `smtps://host:465`, or `file:///path` (spool folder) | required: a default would send mail nowhere |
/// | `SMTP_USERNAME`, `SMTP_PASSWORD` / `SMTP_PASSWORD_FILE` | AUTH credentials (the password is read only when a user name is set) | none |
/// | `SMTP_STARTTLS` | `required` or `off` (only for `smtp://`) | `required` |
/// | `SMTP_CA_FILE` | CA bundle (PEM) to verify the server | system bundle |
/// | `SMTP_FROM` | default sender, `Name <addr@domain>` | `Amtsweg <noreply@amtsweg.localhost>` |
/// | `SMTP_CONNECT_TIMEOUT` | seconds | 10 |
/// | `SMTP_TIMEOUT` | seconds for one whole message transfer | 60 |
/// | `SMTP_CONNECTIONS` | worker threads, each with one reused connection | 2 |
///
/// Certificate verification is always on.
public struct SMTPConfiguration: Sendable {
    public enum StartTLS: String, Sendable { case required, off }

    public enum Endpoint: Sendable, Equatable {
        case smtp(url: String)
        case spool(directory: String)
    }

    public var url: String
    public var username: String?
    public var password: String?
    public var startTLS: StartTLS
    public var caFile: String?
    public var from: MailAddress
    public var connectTimeout: Duration
    public var transferTimeout: Duration
    public var connections: Int

    public init(
        url: String, username: String? = nil, password: String? = nil,
        startTLS: StartTLS = .required, caFile: String? = nil,
        from: MailAddress = try! MailAddress("noreply@amtsweg.localhost", displayName: "Amtsweg"),
        connectTimeout: Duration = .seconds(10), transferTimeout: Duration = .seconds(60), connections: Int = 2
    ) {
        self.url = url
        self.username = username
        self.password = password
        self.startTLS = startTLS
        self.caFile = caFile
        self.from = from
        self.connectTimeout = connectTimeout
        self.transferTimeout = transferTimeout
        self.connections = connections
    }

    public init(environment: Environment) throws {
        self.init(url: try environment.string("SMTP_URL"))
        username = environment["SMTP_USERNAME"]
        // The password only matters with a user name; without one, a placeholder (even empty)
        // secret file is not read.
        if username != nil {
            let password = try environment.secret("SMTP_PASSWORD", default: "")
            self.password = password.isEmpty ? nil : password
        }
        switch environment["SMTP_STARTTLS"]?.lowercased() ?? "required" {
        case "required": startTLS = .required
        case "off": startTLS = .off
        case let other:
            throw ConfigurationError(variable: "SMTP_STARTTLS", problem: "must be required or off (got \"\(other.prefix(40))\")")
        }
        caFile = environment["SMTP_CA_FILE"]
        if let fromText = environment["SMTP_FROM"] {
            do { from = try MailAddress(parsing: fromText) } catch {
                throw ConfigurationError(variable: "SMTP_FROM", problem: "must be an address or Name <address> (\(error.message))")
            }
        }
        connectTimeout = try environment.seconds("SMTP_CONNECT_TIMEOUT", default: .seconds(10))
        transferTimeout = try environment.seconds("SMTP_TIMEOUT", default: .seconds(60))
        connections = try environment.int("SMTP_CONNECTIONS", default: 2, range: 1...64)
        do { _ = try endpoint } catch {
            throw ConfigurationError(variable: "SMTP_URL", problem: error.message)
        }
        if username != nil && self.password == nil {
            throw ConfigurationError(variable: "SMTP_PASSWORD", problem: "is required when SMTP_USERNAME is set")
        }
    }

    /// Where `url` points. Throws for other schemes or a `file://` URL without an absolute path.
    public var endpoint: Endpoint {
        get throws(MailError) {
            let lower = url.lowercased()
            if lower.hasPrefix("smtp://") || lower.hasPrefix("smtps://") {
                guard !url.contains(where: { $0 == " " || $0.isNewline }), url.split(separator: "/").count >= 2 else {
                    throw MailError(code: .invalidConfiguration, message: "SMTP URL must be smtp://host[:port] or smtps://host[:port]")
                }
                if let authority = url.split(separator: "/").dropFirst().first, authority.contains("@") {
                    throw MailError(code: .invalidConfiguration, message: "put credentials in SMTP_USERNAME and SMTP_PASSWORD, not in the URL")
                }
                return .smtp(url: url)
            }
            if lower.hasPrefix("file://") {
                let path = String(url.dropFirst("file://".count))
                guard path.hasPrefix("/"), path.count > 1 else {
                    throw MailError(code: .invalidConfiguration, message: "file URL must name an absolute folder: file:///path")
                }
                return .spool(directory: path)
            }
            throw MailError(code: .invalidConfiguration, message: "must start with smtp://, smtps:// or file://")
        }
    }
}
