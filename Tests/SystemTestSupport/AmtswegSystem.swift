import Foundation
import Logging
import MailTestSupport
import Postgres
import Servicekonto
import ServicekontoSandbox
import TestSupport

/// The whole of Amtsweg as an operator runs it: the five executables and the postbox sandbox as
/// child processes on loopback ports, a real SMTP server (aiosmtpd), one PostgreSQL database,
/// and the demo tenants seeded by `deploy/seed-demo.sh` through the `amtsweg` CLI.
///
/// Use ``with(_:_:)``; it stops every process when the body ends, also when it throws.
public final class AmtswegSystem: Sendable {
    public struct Options: Sendable {
        /// Start a PostgreSQL server of its own (else a database on the test process's shared server).
        public var privatePostgres = false
        /// With `privatePostgres`: fsync and synchronous commit on, as in production.
        public var durablePostgres = false
        /// With `privatePostgres`: load `pg_stat_statements` (see which statements cost).
        public var statementStatistics = false
        /// The SMTP server refuses recipients at these domains with 550 (a permanent fault).
        public var smtpRejectDomains: [String] = []
        /// Extra environment per process (`intake`, `inbox`, `routing`, `notification`,
        /// `servicekonto-bridge`, `servicekonto-sandbox`); wins over the defaults below.
        public var environment: [String: [String: String]] = [:]
        /// Short leases, backoffs and poll intervals so that crashes heal within seconds (tests);
        /// off = the services' production defaults (benchmarks).
        public var fastRecovery = true
        public var logLevel = "info"
        public init() {}
    }

    public static let serviceNames = ["intake", "inbox", "routing", "notification", "servicekonto-bridge"]

    public let postgres: PostgresTestServer
    public let databaseURL: String
    /// A small pool for checks from the outside (the services have their own).
    public let database: PostgresPool
    public let smtp: SMTPServer
    public let sandbox: ManagedProcess
    /// The five services by name (`serviceNames`).
    public let services: [String: ManagedProcess]
    public let demo: DemoCredentials
    public let logDirectory: String

    public var intake: ManagedProcess { services["intake"]! }
    public var inbox: ManagedProcess { services["inbox"]! }

    /// Starts everything, runs `body`, stops everything.
    public static func with<T: Sendable>(_ options: Options = Options(), _ body: (AmtswegSystem) async throws -> T) async throws -> T {
        let postgres = options.privatePostgres
            ? try await PostgresTestServer.start(options: .init(durable: options.durablePostgres, statementStatistics: options.statementStatistics))
            : try await PostgresTestServer.shared()
        let result: Result<T, Error>
        do {
            let databaseURL = try await postgres.makeDatabase()
            result = try await SMTPServer.with(smtpOptions(options)) { smtp in
                let system = try await AmtswegSystem(options: options, postgres: postgres, databaseURL: databaseURL, smtp: smtp)
                do {
                    let value = try await body(system)
                    await system.stop()
                    return Result<T, Error>.success(value)
                } catch {
                    print("system logs after the failure:\n\(system.logTails())")
                    await system.stop()
                    return Result<T, Error>.failure(error)
                }
            }
        } catch {
            result = .failure(error)
        }
        if options.privatePostgres { postgres.stop() }
        return try result.get()
    }

    private static func smtpOptions(_ options: Options) -> SMTPServer.Options {
        var smtp = SMTPServer.Options()
        smtp.journal = true
        smtp.rejectDomains = options.smtpRejectDomains
        smtp.statsInterval = 1
        return smtp
    }

    private init(options: Options, postgres: PostgresTestServer, databaseURL: String, smtp: SMTPServer) async throws {
        self.postgres = postgres
        self.databaseURL = databaseURL
        self.smtp = smtp
        database = PostgresPool(
            configuration: PostgresConfiguration(url: databaseURL, applicationName: "system-test"),
            pool: .init(maxConnections: 4), logger: Logger(service: "system-test", minimumLevel: .warning))
        logDirectory = try makeTemporaryDirectory()
        demo = try await DemoCredentials.seed(databaseURL: databaseURL, logDirectory: logDirectory)

        let sandboxPort = try freeLoopbackPort()
        let inboxPort = try freeLoopbackPort()
        // The services connect as the role that owns nothing, as deployed; the seed as the owner.
        let serviceURL = postgres.serviceURL(of: databaseURL)
        let common = ["DATABASE_URL": serviceURL, "LOG_LEVEL": options.logLevel, "SHUTDOWN_GRACE_SECONDS": "5"]
        let fast: [String: [String: String]] = options.fastRecovery ? [
            "routing": ["ROUTING_LEASE_SECONDS": "3", "ROUTING_POLL_SECONDS": "1"],
            "notification": ["NOTIFY_LEASE_SECONDS": "3"],
            "servicekonto-bridge": [
                "BRIDGE_LEASE_SECONDS": "3", "BRIDGE_BACKOFF_BASE_SECONDS": "0.2", "BRIDGE_BACKOFF_MAX_SECONDS": "2",
                "REPLY_POLL_INTERVAL_SECONDS": "0.2",
            ],
        ] : [:]
        let specific: [String: [String: String]] = [
            "notification": ["SMTP_URL": smtp.url, "SMTP_STARTTLS": "off", "PUBLIC_INBOX_URL": "http://127.0.0.1:\(inboxPort)"],
            "servicekonto-bridge": [
                "SERVICEKONTO_URL": "http://127.0.0.1:\(sandboxPort)", "SERVICEKONTO_TOKEN_URL": "http://127.0.0.1:\(sandboxPort)/oauth/token",
                "SERVICEKONTO_CLIENT_ID": "amtsweg", "SERVICEKONTO_CLIENT_SECRET": "sandbox",
            ],
        ]
        func environment(_ name: String) -> [String: String] {
            common.merging(specific[name] ?? [:]) { $1 }.merging(fast[name] ?? [:]) { $1 }.merging(options.environment[name] ?? [:]) { $1 }
        }
        sandbox = try ManagedProcess(
            name: "servicekonto-sandbox", product: "servicekonto-sandbox", port: sandboxPort,
            environment: ["LOG_LEVEL": options.logLevel, "SANDBOX_CLIENT_ID": "amtsweg", "SANDBOX_CLIENT_SECRET": "sandbox"]
                .merging(options.environment["servicekonto-sandbox"] ?? [:]) { $1 },
            logDirectory: logDirectory)
        var services: [String: ManagedProcess] = [:]
        for name in Self.serviceNames {
            services[name] = try ManagedProcess(
                name: name, product: name, port: name == "inbox" ? inboxPort : try freeLoopbackPort(),
                environment: environment(name), logDirectory: logDirectory)
        }
        self.services = services
        try await sandbox.start()
        for name in Self.serviceNames { try await services[name]!.start() }
    }

    /// SIGTERM to every process (the services first); returns the names of those that needed SIGKILL.
    @discardableResult
    public func stop() async -> [String] {
        var unclean: [String] = []
        for name in Self.serviceNames where !(await services[name]!.stop()) { unclean.append(name) }
        if !(await sandbox.stop()) { unclean.append(sandbox.name) }
        await database.close()
        return unclean
    }

    // MARK: Clients

    public func intakeClient(key: String) -> APIClient { APIClient(port: intake.port, token: key) }
    public func inboxClient(token: String) -> APIClient { APIClient(port: inbox.port, token: token) }
    public var sandboxClient: APIClient { APIClient(port: sandbox.port) }

    /// Messages and statuses the sandbox stored after journal position `after`, in arrival order,
    /// with their delivery counts (so far).
    public func sandboxJournal(after: Int = 0) async throws -> [SandboxJournalEntry] {
        var entries: [SandboxJournalEntry] = []
        while true {
            let response = try await sandboxClient.get("/sandbox/journal?after=\(after + entries.count)&limit=10000", timeout: 30)
            guard response.status == 200 else { throw FixtureError("sandbox journal: \(response)") }
            let page = try JSONDecoder().decode(SandboxStore.JournalPage.self, from: Data(response.body))
            entries += page.entries
            if page.entries.isEmpty { return entries }
        }
    }

    /// Changes the sandbox's fault injection at run time (`PUT /sandbox/faults`).
    public func setSandboxFaults(serverErrorRate: Double = 0, rateLimitRate: Double = 0, retryAfterSeconds: Int = 1, dropRate: Double = 0) async throws {
        let response = try await sandboxClient.call("PUT", "/sandbox/faults", json: [
            "serverErrorRate": serverErrorRate, "rateLimitRate": rateLimitRate, "retryAfterSeconds": retryAfterSeconds,
            "dropRate": dropRate, "slowRate": 0, "slowMilliseconds": 0,
        ])
        guard response.status == 200 else { throw FixtureError("PUT /sandbox/faults: \(response)") }
    }

    /// The end of every process's log.
    public func logTails(lines: Int = 15) -> String {
        ([sandbox] + Self.serviceNames.map { services[$0]! }).map { "--- \($0.name)\n\($0.logTail(lines: lines))" }.joined(separator: "\n")
    }
}

public typealias SandboxJournalEntry = SandboxStore.JournalEntry

extension SMTPJournalEntry {
    /// The application reference the subject names (`ERK-2026-000123`), if any.
    public var reference: String? {
        for token in subject.split(whereSeparator: { !($0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "-")) }) {
            let parts = token.split(separator: "-", omittingEmptySubsequences: false)
            if parts.count == 3, parts[0].count >= 2, parts[1].count == 4, parts[1].allSatisfy(\.isNumber),
               parts[2].count >= 6, parts[2].allSatisfy(\.isNumber) {
                return String(token)
            }
        }
        return nil
    }
}

extension SandboxStore.JournalEntry {
    /// `receivedAt` in seconds since 1970.
    public var receivedTime: Double? { RFC3339.parse(receivedAt)?.timeIntervalSince1970 }
}

/// The secrets `deploy/seed-demo.sh` prints (Kreis Heinsberg, Stadt Erkelenz, Stadt Hückelhoven).
public struct DemoCredentials: Sendable {
    public var values: [String: String]

    public var erkelenzIntakeKey: String { values["ERKELENZ_INTAKE_KEY"]! }
    public var hueckelhovenIntakeKey: String { values["HUECKELHOVEN_INTAKE_KEY"]! }
    /// Anna Schmitz, area Innenstadt (Anwohnerparkausweis, postal code 41812).
    public var annaToken: String { values["ANNA_TOKEN"]! }
    /// Ben Hoffmann, areas Ordnungsamt allgemein (Anwohnerparkausweis, default) and Steueramt (Hundesteuer).
    public var benToken: String { values["BEN_TOKEN"]! }
    /// Clara, admin of Erkelenz, area Bürgerbüro (fallback).
    public var claraAdminToken: String { values["CLARA_ADMIN_TOKEN"]! }
    /// Deniz, admin of Hückelhoven, area Gewerbeamt.
    public var denizAdminToken: String { values["DENIZ_ADMIN_TOKEN"]! }

    /// Runs the demo seed script (the one `deploy/run.sh` and the compose demo use).
    static func seed(databaseURL: String, logDirectory: String) async throws -> DemoCredentials {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/seed-demo.sh").path
        let amtsweg = try builtProduct("amtsweg")
        let output = "\(logDirectory)/seed-demo.out"
        let status = try await offPool {
            reap(try spawn(["sh", script], outputPath: output, environment: ["AMTSWEG": amtsweg, "MIGRATION_DATABASE_URL": databaseURL]))
        }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw FixtureError("deploy/seed-demo.sh failed (\(status)):\n\(text)") }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].allSatisfy({ $0.isUppercase || $0 == "_" }) { values[String(parts[0])] = String(parts[1]) }
        }
        for name in ["ERKELENZ_INTAKE_KEY", "HUECKELHOVEN_INTAKE_KEY", "ANNA_TOKEN", "BEN_TOKEN", "CLARA_ADMIN_TOKEN", "DENIZ_ADMIN_TOKEN"]
        where values[name]?.isEmpty ?? true {
            throw FixtureError("deploy/seed-demo.sh printed no \(name):\n\(text)")
        }
        return DemoCredentials(values: values)
    }
}
