import Foundation
import HTTPTestSupport
import Logging
import Postgres
import Schema
import Testing
import TestSupport

/// The five executables as deployed, wired by ServiceWiring: their queues' figures on
/// `/metrics`, and `/readyz` following the database.
@Suite(.serialized) struct LiveWiringTests {
    /// The queues each executable produces or consumes.
    static let queuesOf: [String: Set<String>] = [
        "intake": ["route", "citizen-outbox"],
        "routing": ["route", "notify-email", "citizen-outbox"],
        "inbox": ["citizen-reply", "citizen-outbox", "notify-email"],
        "notification": ["notify-email"],
        "servicekonto-bridge": ["citizen-outbox", "citizen-reply", "notify-email"],
    ]
    static let allQueues: Set<String> = ["route", "notify-email", "citizen-outbox", "citizen-reply"]

    /// What the executables need besides a database (the bridge a postbox URL; nothing is sent).
    static let environment = [
        "SERVICEKONTO_URL": "http://127.0.0.1:9", "REPLY_POLLING": "false", "RETENTION_ENABLED": "false",
        "SMTP_URL": "file://" + NSTemporaryDirectory() + "amtsweg-wiring-mail",
    ]

    static func get(_ port: Int, _ path: String) async throws -> (status: Int, body: String) {
        let response = try await request(port: port, "GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return (response.status, response.bodyText)
    }

    @Test(arguments: ["intake", "routing", "inbox", "notification", "servicekonto-bridge"])
    func metricsShowDepthAndOldestAgeOfTheServicesOwnQueues(product: String) async throws {
        let db = try await TestDatabase.make()
        // A job ready for 30 s on a queue that no process here consumes, to see the figures move.
        try await db.pool.query("""
            INSERT INTO queue_jobs (queue, payload, run_at, max_attempts) VALUES ('route', '{}', now() - interval '30 seconds', 5)
            """)
        let own = try #require(Self.queuesOf[product])
        try await ManagedProcess.with(product: product, databaseURL: db.serviceURL, environment: Self.environment) { service in
            let metrics = try await Self.get(service.port, "/metrics").body
            for queue in own {
                #expect(metrics.contains("amtsweg_queue_ready_jobs{queue=\"\(queue)\"} "), "\(product): depth of \(queue)\n\(metrics)")
                #expect(metrics.contains("amtsweg_queue_oldest_ready_age_seconds{queue=\"\(queue)\"} "), "\(product): age of \(queue)")
            }
            for queue in Self.allQueues.subtracting(own) {
                #expect(!metrics.contains("{queue=\"\(queue)\"}"), "\(product) shows \(queue), which it neither produces nor consumes")
            }
            if product == "intake" {
                #expect(metrics.contains("amtsweg_queue_ready_jobs{queue=\"route\"} 1"), "\(metrics)")
                let age = metrics.split(separator: "\n").first { $0.hasPrefix("amtsweg_queue_oldest_ready_age_seconds{queue=\"route\"} ") }
                let seconds = age.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? 0
                #expect(seconds >= 29, "\(age ?? "no age line")")
            }
        }
    }

    @Test func readyzIsUnavailableWhileTheDatabaseIsMissingOrBehindAndReadyOnceMigrated() async throws {
        let server = try await PostgresTestServer.shared()
        let name = "t_ready_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        let url = server.url(database: String(name))
        let routing = try ManagedProcess(
            name: "routing-ready-\(name)", product: "routing", port: try freeLoopbackPort(),
            environment: ["DATABASE_URL": url, "MIGRATE_ON_START": "false", "LOG_LEVEL": "info", "ROUTING_POLL_SECONDS": "0.2"],
            logDirectory: NSTemporaryDirectory())
        try await routing.start(until: "/healthz")
        do {
            // The database does not exist yet: unreachable.
            let missing = try await Self.get(routing.port, "/readyz")
            #expect(missing.status == 503, "\(missing.body)")
            #expect(missing.body.contains("database not reachable"), "\(missing.body)")

            // It exists, empty: reachable, but migrations are pending (and MIGRATE_ON_START=false).
            _ = try await server.makeDatabase(migrated: false, name: String(name))
            let behind = await eventually(timeout: .seconds(20)) {
                (try? await Self.get(routing.port, "/readyz").body.contains("migrations not current")) ?? false
            }
            let stillBehind = try await Self.get(routing.port, "/readyz")
            #expect(behind && stillBehind.status == 503, "\(stillBehind.body)")

            // Migrated from outside (as the deployment's migrate job does): ready.
            let logger = Logger(service: "test", minimumLevel: .warning)
            let pool = PostgresPool(configuration: PostgresConfiguration(url: url), pool: .init(maxConnections: 1), logger: logger)
            try await Migrator(logger: logger).migrate(pool)
            await pool.close()
            let ready = await eventually(timeout: .seconds(20)) { (try? await Self.get(routing.port, "/readyz").status) == 200 }
            let last = try await Self.get(routing.port, "/readyz")
            #expect(ready && last.status == 200, "\(last.body)")
        } catch {
            await routing.stop()
            throw error
        }
        #expect(await routing.stop(), "clean exit on SIGTERM:\n\(routing.logTail())")
    }

    /// With the owner's URL a service migrates an empty database at start, then works as the
    /// role that owns nothing.
    @Test func aServiceGivenTheOwnersURLMigratesAtStartAndWorksAsItsOwnRole() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let environment = Self.environment.merging(["MIGRATION_DATABASE_URL": db.url]) { $1 }
        try await ManagedProcess.with(product: "intake", databaseURL: db.serviceURL, environment: environment) { intake in
            let ready = try await Self.get(intake.port, "/readyz")
            #expect(ready.status == 200, "\(ready.body)")
            #expect(try await db.scalar("SELECT count(*) FROM schema_migrations", as: Int.self) == Migrations.all.count)
            #expect(try await db.scalar("SELECT tableowner::text FROM pg_tables WHERE tablename = 'audit_log'", as: String.self) == "postgres")
            let sessions = try await db.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND usename = 'amtsweg_service'", as: Int.self)
            #expect(sessions >= 1, "intake's own sessions use the services' role")
        }
    }
}
