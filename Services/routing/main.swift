// routing — consumes the `route` queue: picks each application's responsibility area, assigns
// it, and fans out caseworker e-mails, the applicant's receipt and inbox wake-ups, all in the
// transaction that acks the job. Serves /healthz, /readyz and /metrics (port 8083).
//
// | variable | meaning | default |
// |---|---|---|
// | `DATABASE_URL`, `HTTP_HOST`, `HTTP_PORT` | as every service | —, `0.0.0.0`, `8083` |
// | `ROUTING_CONCURRENCY` | batches routed at once, each on its own connection | `4` |
// | `ROUTING_BATCH_SIZE` | route jobs claimed and committed per transaction | `50` |
// | `ROUTING_LEASE_SECONDS` | how long a claim holds jobs before another replica may take them | `60` |
// | `ROUTING_POLL_SECONDS` | fallback poll when no NOTIFY arrives | `5` |
// | `DATABASE_POOL_SIZE` | connections for routing and metrics | concurrency + 2 |
// | `MIGRATE_ON_START` | apply missing migrations at start | `true` |
import JobQueue
import Logging
import Metrics
import Postgres
import Routing
import Schema
import ServiceRuntime

/// The route-queue consumer as a service of the process: stops claiming on SIGTERM, finishes or
/// hands back its batches, then returns.
struct ConsumerService: Service {
    let name = "route-consumer"
    let consumer: QueueConsumer
    let listener: PostgresListener

    func run(shutdown: ShutdownSignal) async throws {
        let running = Task { await consumer.run() }
        await withTaskCancellationHandler {
            await shutdown.wait()
        } onCancel: {
            running.cancel()
        }
        consumer.stop()
        await running.value
        listener.stop()
    }
}

func makeServices(_ runtime: ServiceRuntime) async throws -> [any Service] {
    let environment = Environment()
    let concurrency = try environment.int("ROUTING_CONCURRENCY", default: 4, range: 1...64)
    let batchSize = try environment.int("ROUTING_BATCH_SIZE", default: 50, range: 1...1000)
    let lease = try environment.seconds("ROUTING_LEASE_SECONDS", default: .seconds(60))
    let poll = try environment.seconds("ROUTING_POLL_SECONDS", default: .seconds(5))
    let poolSize = try environment.int("DATABASE_POOL_SIZE", default: concurrency + 2, range: 2...500)
    let migrate = try environment.bool("MIGRATE_ON_START", default: true)
    guard lease >= .seconds(1) else { throw ConfigurationError(variable: "ROUTING_LEASE_SECONDS", problem: "must be at least 1") }
    guard poll >= .milliseconds(10) else { throw ConfigurationError(variable: "ROUTING_POLL_SECONDS", problem: "must be at least 0.01") }

    let configuration = PostgresConfiguration(url: runtime.configuration.databaseURL, applicationName: "routing")
    let pool = PostgresPool(configuration: configuration, pool: PostgresPoolConfiguration(maxConnections: poolSize), logger: runtime.logger)
    let notifyPool = PostgresPool(configuration: configuration, pool: PostgresPoolConfiguration(maxConnections: 1), logger: runtime.logger)
    let migrator = Migrator(logger: runtime.logger)
    if migrate { try await migrator.migrate(pool) }

    let queue = JobQueue(pool: pool, notifier: QueueNotifier(pool: notifyPool, logger: runtime.logger))
    queue.registerStatistics(in: runtime.metrics)
    let routing = Routing(queue: queue, metrics: runtime.metrics, logger: runtime.logger)
    let listener = PostgresListener(configuration: configuration, logger: runtime.logger)
    let consumer = QueueConsumer(
        pool: pool, bookkeepingPool: .queueBookkeeping(configuration, logger: runtime.logger), listener: listener,
        configuration: ConsumerConfiguration(queue: .route, batchSize: batchSize, concurrency: concurrency, leaseDuration: lease,
                                             pollInterval: poll, shutdownDeadline: runtime.configuration.shutdownGracePeriod),
        handler: .transactional(RouteJobHandler(routing: routing, metrics: runtime.metrics)),
        logger: runtime.logger, metrics: runtime.metrics
    )
    runtime.logger.info("routing configured", ["concurrency": String(concurrency), "batch_size": String(batchSize)])
    return [
        runtime.httpService(router: runtime.makeRouter(), readiness: { await readiness(pool: pool, migrator: migrator) }),
        ConsumerService(consumer: consumer, listener: listener),
    ]
}

func readiness(pool: PostgresPool, migrator: Migrator) async -> ReadinessReport {
    guard await pool.ping() else {
        return ReadinessReport(checks: [ReadinessCheck(name: "database", isReady: false, detail: "database not reachable")])
    }
    let current = (try? await migrator.status(pool).isCurrent) ?? false
    return ReadinessReport(checks: [
        ReadinessCheck(name: "database", isReady: true),
        ReadinessCheck(name: "migrations", isReady: current, detail: current ? nil : "migrations not current"),
    ])
}

await ServiceRuntime.main(serviceName: "routing", defaultPort: 8083) { runtime in
    try await makeServices(runtime)
}
