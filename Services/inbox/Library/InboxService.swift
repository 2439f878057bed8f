import ApplicationLifecycle
import Domain
import JobQueue
import ServiceRuntime
import ServiceWiring

/// Builds the inbox service from the runtime's configuration: the HTTP API (caseworkers and
/// admins), the `citizen-reply` consumer and the daily retention sweep (database settings: see
/// ``DatabaseSettings``; default pool 16).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `REPLY_CONSUMER_CONCURRENCY` | `citizen-reply` batches in flight | `2` |
/// | `LONG_POLL_MAX_SECONDS` | longest a long-poll is held; longer `wait`s are cut to it | `60` |
/// | `RETENTION_ENABLED` | run the daily retention sweep in this process | `true` |
/// | `RETENTION_CHECK_SECONDS` | how often a replica checks whether the day's sweep is due | `3600` |
public enum InboxService {
    public static func makeServices(_ runtime: ServiceRuntime, environment: Environment = Environment()) async throws -> [any RuntimeService] {
        let replyConcurrency = try environment.int("REPLY_CONSUMER_CONCURRENCY", default: 2, range: 1...64)
        let retentionEnabled = try environment.bool("RETENTION_ENABLED", default: true)
        let longPollLimit = try environment.int("LONG_POLL_MAX_SECONDS", default: 60, range: 1...60)
        let retentionCheck = try environment.seconds("RETENTION_CHECK_SECONDS", default: .seconds(3600))
        // Custom plans: the inbox and admin lists are queries with optional filters (see PostgresConfiguration.customPlans).
        let database = try await DatabaseRuntime.start(
            runtime, environment: environment, defaultPoolSize: 16, queues: [.citizenReply, .citizenOutbox, .notifyEmail], customPlans: true)
        let tokenUse = CredentialUseRecorder(.caseworkerToken, pool: database.pool, logger: runtime.logger)
        let api = InboxAPI(pool: database.pool, queue: database.queue, listener: database.listener, longPollLimitSeconds: longPollLimit, tokenUse: tokenUse)
        var router = runtime.makeRouter()
        api.register(on: &router)
        var services: [any RuntimeService] = [
            database.httpService(router),
            database.consumer(queue: .citizenReply, batchSize: ReplyHandler.batchSize, concurrency: replyConcurrency,
                              handler: .transactional(ReplyHandler(lifecycle: ApplicationLifecycle(queue: database.queue)))),
            BackgroundService(name: "caseworker-token-use", run: tokenUse.run(until:)),
        ]
        if retentionEnabled {
            services.append(RetentionService(retention: Retention(pool: database.pool, logger: runtime.logger), checkInterval: retentionCheck))
        }
        return services
    }
}
