import JobQueue
import Logging
import Mail
import Metrics
import Postgres
import Schema
import ServiceRuntime

/// Builds the notification service: a `notify-email` consumer sending over SMTP (or into a spool
/// folder), plus the HTTP server for `/healthz`, `/readyz` and `/metrics`.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `SMTP_*` | transport, see `SMTPConfiguration` | spool into `/tmp/amtsweg-mail` |
/// | `PUBLIC_INBOX_URL` | base of the link in every e-mail (`…/applications/<id>`) | `http://localhost:8082` |
/// | `NOTIFY_CONCURRENCY` | e-mails in flight at once | `8` |
/// | `DATABASE_POOL_SIZE` | connections | `8` |
/// | `MIGRATE_ON_START` | apply missing migrations at start | `true` |
public enum NotificationService {
    public static func makeServices(_ runtime: ServiceRuntime, environment: Environment = Environment()) async throws -> [any Service] {
        let smtp = try SMTPConfiguration(environment: environment)
        let inboxURL = try environment.string("PUBLIC_INBOX_URL", default: "http://localhost:8082")
        let concurrency = try environment.int("NOTIFY_CONCURRENCY", default: 8, range: 1...256)
        let poolSize = try environment.int("DATABASE_POOL_SIZE", default: 8, range: 2...200)
        let migrate = try environment.bool("MIGRATE_ON_START", default: true)
        let leaseSeconds = try environment.int("NOTIFY_LEASE_SECONDS", default: 60, range: 1...3600)

        let configuration = PostgresConfiguration(url: runtime.configuration.databaseURL, applicationName: "notification")
        let pool = PostgresPool(configuration: configuration, pool: PostgresPoolConfiguration(maxConnections: poolSize), logger: runtime.logger)
        let migrator = Migrator(logger: runtime.logger)
        if migrate { _ = try await migrator.migrate(pool) }
        let transport = try makeMailTransport(smtp)
        if let smtpTransport = transport as? SMTPTransport {
            runtime.metrics.addCollector {
                [MetricSample(
                    name: "amtsweg_smtp_connections_opened_total", help: "SMTP connections libcurl opened (a burst reuses them)",
                    type: .counter, labels: [:], value: Double(smtpTransport.connectionsOpened))]
            }
        }
        runtime.logger.info("mail transport", ["endpoint": describe(try smtp.endpoint), "connections": String(smtp.connections)])
        let handler = NotificationHandler(
            pool: pool, transport: transport, sender: smtp.from, inboxURL: inboxURL, logger: runtime.logger, metrics: runtime.metrics)
        // Queue depth and oldest-job age per queue on /metrics.
        JobQueue(pool: pool, notifier: nil).registerStatistics(in: runtime.metrics)
        let listener = PostgresListener(configuration: configuration, logger: runtime.logger)
        let consumer = QueueConsumer(
            pool: pool, bookkeepingPool: .queueBookkeeping(configuration, logger: runtime.logger), listener: listener,
            configuration: ConsumerConfiguration(queue: .notifyEmail, concurrency: concurrency, leaseDuration: .seconds(leaseSeconds)),
            handler: .effects(handler), logger: runtime.logger, metrics: runtime.metrics)
        let router = runtime.makeRouter()
        return [
            runtime.httpService(router: router, readiness: { await readiness(pool: pool, migrator: migrator) }),
            ConsumerService(consumer: consumer, listener: listener, transport: transport),
        ]
    }

    static func describe(_ endpoint: SMTPConfiguration.Endpoint) -> String {
        switch endpoint {
        case .smtp(let url): url
        case .spool(let directory): "spool " + directory
        }
    }

    static func readiness(pool: PostgresPool, migrator: Migrator) async -> ReadinessReport {
        guard await pool.ping() else {
            return ReadinessReport(checks: [ReadinessCheck(name: "database", isReady: false, detail: "database not reachable")])
        }
        let current = (try? await migrator.status(pool).isCurrent) ?? false
        return ReadinessReport(checks: [
            ReadinessCheck(name: "database", isReady: true),
            ReadinessCheck(name: "migrations", isReady: current, detail: current ? nil : "migrations not current"),
        ])
    }
}

/// Runs a queue consumer until shutdown; then it stops claiming, lets running jobs finish within
/// its deadline (or hands them back), and closes the mail transport.
public struct ConsumerService: Service {
    public let name = "notify-email-consumer"
    let consumer: QueueConsumer
    let listener: PostgresListener
    let transport: any MailTransport

    public func run(shutdown: ShutdownSignal) async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await consumer.run() }
            group.addTask {
                await shutdown.wait()
                consumer.stop()
            }
            await group.next()
            consumer.stop()
            // The consumer ended on its own: release the task waiting for shutdown.
            if !shutdown.isTriggered { group.cancelAll() }
            await group.waitForAll()
        }
        listener.stop()
        transport.shutdown()
    }
}
