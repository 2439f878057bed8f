import class Domain.CredentialUseRecorder  // only this: Domain has a `Service` of its own
import JobQueue
import ServiceRuntime
import ServiceWiring

/// Builds the intake service from the runtime's configuration (database settings: see
/// ``DatabaseSettings``; default pool 16).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `REFERENCE_BLOCK_SIZE` | reference numbers reserved per round trip; 1 = strictly in order of arrival, more saves a round trip per application at the price of small gaps at restart and of order only within a block | `10` |
/// | `INTAKE_AUTH_CACHE_SECONDS` | how long a verified client key is remembered | `10` |
public enum IntakeService {
    public static func makeServices(_ runtime: ServiceRuntime, environment: Environment = Environment()) async throws -> [any Service] {
        let blockSize = try environment.int("REFERENCE_BLOCK_SIZE", default: 10, range: 1...1000)
        let authCache = try environment.seconds("INTAKE_AUTH_CACHE_SECONDS", default: .seconds(10))
        // route: every accepted application; citizen-outbox: the status message of a withdrawal.
        let database = try await DatabaseRuntime.start(runtime, environment: environment, defaultPoolSize: 16, queues: [.route, .citizenOutbox])
        let keyUse = CredentialUseRecorder(.intakeClientKey, pool: database.pool, logger: runtime.logger)
        let api = IntakeAPI(pool: database.pool, queue: database.queue, referenceBlockSize: blockSize, authCacheTTL: authCache,
                            keyUse: keyUse, metrics: runtime.metrics)
        var router = runtime.makeRouter()
        api.register(on: &router)
        return [
            database.httpService(router),
            IdempotencyKeyPruner(pool: database.pool, logger: runtime.logger),
            BackgroundService(name: "intake-key-use", run: keyUse.run(until:)),
        ]
    }
}
