import class Domain.CredentialUseRecorder  // only this: Domain has a `Service` of its own
import JobQueue
import Logging
import Postgres
import Schema
import ServiceRuntime

/// Builds the intake service from the runtime's configuration.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `DATABASE_POOL_SIZE` | connections for requests | `16` |
/// | `MIGRATE_ON_START` | apply missing migrations at start | `true` |
/// | `REFERENCE_BLOCK_SIZE` | reference numbers reserved per round trip; 1 = strictly in order of arrival, more saves a round trip per application at the price of small gaps at restart and of order only within a block | `10` |
/// | `INTAKE_AUTH_CACHE_SECONDS` | how long a verified client key is remembered | `10` |
public enum IntakeService {
    public static func makeServices(_ runtime: ServiceRuntime, environment: Environment = Environment()) async throws -> [any Service] {
        let poolSize = try environment.int("DATABASE_POOL_SIZE", default: 16, range: 1...500)
        let migrate = try environment.bool("MIGRATE_ON_START", default: true)
        let blockSize = try environment.int("REFERENCE_BLOCK_SIZE", default: 10, range: 1...1000)
        let authCache = try environment.seconds("INTAKE_AUTH_CACHE_SECONDS", default: .seconds(10))
        let configuration = PostgresConfiguration(url: runtime.configuration.databaseURL, applicationName: "intake")
        let pool = PostgresPool(configuration: configuration, pool: PostgresPoolConfiguration(maxConnections: poolSize), logger: runtime.logger)
        let notifyPool = PostgresPool(configuration: configuration, pool: PostgresPoolConfiguration(maxConnections: 1), logger: runtime.logger)
        let migrator = Migrator(logger: runtime.logger)
        if migrate { try await migrator.migrate(pool) }
        let queue = JobQueue(pool: pool, notifier: QueueNotifier(pool: notifyPool, logger: runtime.logger))
        let keyUse = CredentialUseRecorder(.intakeClientKey, pool: pool, logger: runtime.logger)
        let api = IntakeAPI(pool: pool, queue: queue, referenceBlockSize: blockSize, authCacheTTL: authCache, keyUse: keyUse, metrics: runtime.metrics)
        var router = runtime.makeRouter()
        api.register(on: &router)
        return [
            runtime.httpService(router: router, readiness: { await readiness(pool: pool, migrator: migrator) }),
            IdempotencyKeyPruner(pool: pool, logger: runtime.logger),
            BackgroundService(name: "intake-key-use", run: keyUse.run(until:)),
        ]
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
