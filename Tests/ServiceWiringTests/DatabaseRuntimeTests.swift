import JobQueue
import Logging
import Postgres
import ServiceRuntime
import ServiceWiring
import Testing
import TestSupport

/// The one wiring's own rules: one range for `DATABASE_POOL_SIZE`, and every consumer it builds
/// (routing's too, whose `main` cannot be called from a test) follows `SHUTDOWN_GRACE_SECONDS`.
@Suite struct DatabaseRuntimeTests {
    struct Nothing: TransactionalJobHandler {
        func handle(_ job: Job, in transaction: Transaction) async throws {}
    }

    @Test func thePoolSizeHasOneDocumentedRangeAndTheServicesDefault() throws {
        #expect(DatabaseSettings.poolSizeRange == 2...500)
        // Without the owner's URL a service does not migrate; with it, it does by default.
        #expect(try DatabaseSettings(environment: Environment([:]), defaultPoolSize: 16) == .init(poolSize: 16, migrateOnStart: false))
        let owner = "postgresql://amtsweg@/amtsweg"
        #expect(try DatabaseSettings(environment: Environment(["MIGRATION_DATABASE_URL": owner]), defaultPoolSize: 16)
            == .init(poolSize: 16, migrateOnStart: true, migration: .init(databaseURL: owner)))
        let role = try DatabaseSettings(environment: Environment(["DATABASE_SERVICE_ROLE": "svc_2"]), defaultPoolSize: 16).migration.serviceRole
        #expect(role.name == "svc_2")
        #expect(throws: ConfigurationError.self) { try DatabaseSettings(environment: Environment(["DATABASE_SERVICE_ROLE": "Svc; DROP"]), defaultPoolSize: 8) }
        let edges = try DatabaseSettings(environment: Environment(["DATABASE_POOL_SIZE": "2", "MIGRATE_ON_START": "false"]), defaultPoolSize: 8)
        #expect(edges.poolSize == 2 && !edges.migrateOnStart)
        #expect(try DatabaseSettings(environment: Environment(["DATABASE_POOL_SIZE": "500"]), defaultPoolSize: 8).poolSize == 500)
        for bad in ["1", "501", "0", "-3", "sixteen"] {
            #expect(throws: ConfigurationError.self) { try DatabaseSettings(environment: Environment(["DATABASE_POOL_SIZE": bad]), defaultPoolSize: 8) }
        }
        #expect(throws: ConfigurationError.self) { try DatabaseSettings(environment: Environment(["MIGRATE_ON_START": "maybe"]), defaultPoolSize: 8) }
    }

    @Test(arguments: [("25", Duration.seconds(23)), ("30", .seconds(28)), ("3", .milliseconds(1500))])
    func aConsumerItBuildsGetsTheGracePeriodLessTheMargin(grace: String, expected: Duration) async throws {
        let db = try await TestDatabase.make()
        let environment = Environment(["DATABASE_URL": db.url, "MIGRATE_ON_START": "false", "SHUTDOWN_GRACE_SECONDS": grace])
        let runtime = ServiceRuntime(configuration: try ServiceConfiguration(serviceName: "routing", defaultPort: 0, environment: environment),
                                     logSink: MemoryLogSink())
        #expect(runtime.configuration.inFlightGracePeriod == expected)
        let database = try await DatabaseRuntime.start(runtime, environment: environment, defaultPoolSize: 6, queues: [.route])
        let service = database.consumer(queue: .route, batchSize: 50, concurrency: 4, handler: .transactional(Nothing()))
        #expect(service.consumer.configuration.shutdownDeadline == expected)
        #expect(service.consumer.configuration.batchSize == 50 && service.consumer.configuration.concurrency == 4)
        #expect(service.name == "consumer-route")
        #expect(runtime.configuration.httpServerConfiguration.shutdownGracePeriod == expected)
        #expect(await database.readiness().isReady)
    }
}
