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
// | `DATABASE_POOL_SIZE`, `MIGRATE_ON_START` | see `DatabaseSettings` | concurrency + 2, `true` |
import JobQueue
import Routing
import ServiceRuntime
import ServiceWiring

func makeServices(_ runtime: ServiceRuntime) async throws -> [any Service] {
    let environment = Environment()
    let concurrency = try environment.int("ROUTING_CONCURRENCY", default: 4, range: 1...64)
    let batchSize = try environment.int("ROUTING_BATCH_SIZE", default: 50, range: 1...1000)
    let lease = try environment.seconds("ROUTING_LEASE_SECONDS", default: .seconds(60))
    let poll = try environment.seconds("ROUTING_POLL_SECONDS", default: .seconds(5))
    guard lease >= .seconds(1) else { throw ConfigurationError(variable: "ROUTING_LEASE_SECONDS", problem: "must be at least 1") }
    guard poll >= .milliseconds(10) else { throw ConfigurationError(variable: "ROUTING_POLL_SECONDS", problem: "must be at least 0.01") }
    // Each lane holds a connection for its batch; two more for /readyz and /metrics.
    let database = try await DatabaseRuntime.start(
        runtime, environment: environment, defaultPoolSize: concurrency + 2, queues: [.route, .notifyEmail, .citizenOutbox])
    let routing = Routing(queue: database.queue, metrics: runtime.metrics, logger: runtime.logger)
    runtime.logger.info("routing configured", ["concurrency": String(concurrency), "batch_size": String(batchSize)])
    return [
        database.httpService(runtime.makeRouter()),
        database.consumer(queue: .route, batchSize: batchSize, concurrency: concurrency, leaseDuration: lease, pollInterval: poll,
                          handler: .transactional(RouteJobHandler(routing: routing, metrics: runtime.metrics))),
    ]
}

await ServiceRuntime.main(serviceName: "routing", defaultPort: 8083) { runtime in
    try await makeServices(runtime)
}
