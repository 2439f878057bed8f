import Domain
import JobQueue
import Logging
import Postgres
import Schema
import ServiceRuntime

/// Builds the inbox service from the runtime's configuration: the HTTP API (caseworkers and
/// admins), the `citizen-reply` consumer and the daily retention sweep.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `DATABASE_POOL_SIZE` | connections for requests | `16` |
/// | `MIGRATE_ON_START` | apply missing migrations at start | `true` |
/// | `REPLY_CONSUMER_CONCURRENCY` | `citizen-reply` batches in flight | `2` |
/// | `LONG_POLL_MAX_SECONDS` | longest a long-poll is held; longer `wait`s are cut to it | `60` |
/// | `RETENTION_ENABLED` | run the daily retention sweep in this process | `true` |
/// | `RETENTION_CHECK_SECONDS` | how often a replica checks whether the day's sweep is due | `3600` |
public enum InboxService {
    public static func makeServices(_ runtime: ServiceRuntime, environment: Environment = Environment()) async throws -> [any RuntimeService] {
        let poolSize = try environment.int("DATABASE_POOL_SIZE", default: 16, range: 2...500)
        let migrate = try environment.bool("MIGRATE_ON_START", default: true)
        let replyConcurrency = try environment.int("REPLY_CONSUMER_CONCURRENCY", default: 2, range: 1...64)
        let retentionEnabled = try environment.bool("RETENTION_ENABLED", default: true)
        let longPollLimit = try environment.int("LONG_POLL_MAX_SECONDS", default: 60, range: 1...60)
        let retentionCheck = try environment.seconds("RETENTION_CHECK_SECONDS", default: .seconds(3600))
        // Custom plans: the inbox and admin lists are queries with optional filters (see PostgresConfiguration.customPlans).
        let configuration = PostgresConfiguration(url: runtime.configuration.databaseURL, applicationName: "inbox", customPlans: true)
        let pool = PostgresPool(configuration: configuration, pool: PostgresPoolConfiguration(maxConnections: poolSize), logger: runtime.logger)
        let notifyPool = PostgresPool(configuration: configuration, pool: PostgresPoolConfiguration(maxConnections: 1), logger: runtime.logger)
        let migrator = Migrator(logger: runtime.logger)
        if migrate { try await migrator.migrate(pool) }
        let listener = PostgresListener(configuration: configuration, logger: runtime.logger)
        let queue = JobQueue(pool: pool, notifier: QueueNotifier(pool: notifyPool, logger: runtime.logger))
        let tokenUse = CredentialUseRecorder(.caseworkerToken, pool: pool, logger: runtime.logger)
        let api = InboxAPI(pool: pool, queue: queue, listener: listener, longPollLimitSeconds: longPollLimit, tokenUse: tokenUse)
        var router = runtime.makeRouter()
        api.register(on: &router)
        var services: [any RuntimeService] = [
            runtime.httpService(router: router, readiness: { await readiness(pool: pool, migrator: migrator) }),
            ConsumerService(consumer: ReplyHandler.consumer(pool: pool, queue: queue, listener: listener, concurrency: replyConcurrency,
                                                            logger: runtime.logger, metrics: runtime.metrics)),
            BackgroundService(name: "caseworker-token-use", run: tokenUse.run(until:)),
        ]
        if retentionEnabled {
            services.append(RetentionService(retention: Retention(pool: pool, logger: runtime.logger), checkInterval: retentionCheck))
        }
        return services
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

/// A queue consumer as a service of the process: stops claiming on shutdown.
struct ConsumerService: RuntimeService {
    let consumer: QueueConsumer
    var name: String { "consumer-\(consumer.configuration.queue.rawValue)" }

    func run(shutdown: ShutdownSignal) async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await consumer.run() }
            group.addTask {
                await shutdown.wait()
                consumer.stop()
            }
            await group.next()
            consumer.stop()
            group.cancelAll()
        }
    }
}
