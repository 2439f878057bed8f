import HTTPServer
import JobQueue
import Logging
import Postgres
import Schema
import ServiceRuntime
import Synchronization

/// How the schema is changed, read by every service and by the `amtsweg` CLI.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `MIGRATION_DATABASE_URL` / `MIGRATION_DATABASE_URL_FILE` | the schema owner's connection URL (secret): migrations and the CLI | unset |
/// | `DATABASE_SERVICE_ROLE` | the role in the services' `DATABASE_URL`, granted its privileges by every migration run (``ServiceRole``) | `amtsweg_service` |
public struct MigrationSettings: Sendable, Equatable {
    /// Contains a password: never log it.
    public var databaseURL: String?
    public var serviceRole: ServiceRole

    public init(databaseURL: String?, serviceRole: ServiceRole = .standard) {
        self.databaseURL = databaseURL
        self.serviceRole = serviceRole
    }

    public init(environment: Environment) throws {
        databaseURL = try environment.optionalSecret("MIGRATION_DATABASE_URL").map {
            try ServiceConfiguration.checkedDatabaseURL($0, variable: "MIGRATION_DATABASE_URL")
        }
        let roleName = try environment.string("DATABASE_SERVICE_ROLE", default: ServiceRole.standard.name)
        guard let role = ServiceRole(roleName) else {
            throw ConfigurationError(variable: "DATABASE_SERVICE_ROLE", problem: "must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 bytes)")
        }
        serviceRole = role
    }
}

/// The database settings every service reads, once, from its environment.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `DATABASE_POOL_SIZE` | connections in the service's pool, 2 to 500 (besides: one for LISTEN, one for NOTIFY, up to four for queue bookkeeping) | per service |
/// | `MIGRATE_ON_START` | apply missing migrations at start (under an advisory lock), as the owner in `MIGRATION_DATABASE_URL` | `true` when `MIGRATION_DATABASE_URL` is set, else `false` |
///
/// and ``MigrationSettings``. Without `MIGRATION_DATABASE_URL` a service cannot migrate (its own
/// role may not change the schema): `MIGRATE_ON_START=true` then stops it at start, and `/readyz`
/// answers 503 until someone runs `amtsweg migrate`.
public struct DatabaseSettings: Sendable, Equatable {
    /// The documented range of `DATABASE_POOL_SIZE`. At least 2: a consumer's batch transaction
    /// must not leave `/readyz` and `/metrics` without a connection.
    public static let poolSizeRange = 2...500

    public var poolSize: Int
    public var migrateOnStart: Bool
    public var migration: MigrationSettings

    public init(poolSize: Int, migrateOnStart: Bool, migration: MigrationSettings = .init(databaseURL: nil)) {
        self.poolSize = poolSize
        self.migrateOnStart = migrateOnStart
        self.migration = migration
    }

    /// - Parameter defaultPoolSize: the service's default (kept within ``poolSizeRange``).
    public init(environment: Environment, defaultPoolSize: Int) throws {
        let fallback = min(max(defaultPoolSize, Self.poolSizeRange.lowerBound), Self.poolSizeRange.upperBound)
        poolSize = try environment.int("DATABASE_POOL_SIZE", default: fallback, range: Self.poolSizeRange)
        migration = try MigrationSettings(environment: environment)
        migrateOnStart = try environment.bool("MIGRATE_ON_START", default: migration.databaseURL != nil)
        if migrateOnStart && migration.databaseURL == nil {
            throw ConfigurationError(
                variable: "MIGRATE_ON_START",
                problem: "is true but MIGRATION_DATABASE_URL is not set: the services' role may not change the schema; set MIGRATION_DATABASE_URL to the owner's URL, or run `amtsweg migrate` and leave MIGRATE_ON_START unset")
        }
    }
}

/// A service's database, wired the same way in every executable: the service's pool, a small
/// pool for the queue's bookkeeping, the one-connection notifier and its ``JobQueue``, the
/// process's one LISTEN session, migrations under `MIGRATE_ON_START`, the queue figures of the
/// service's queues on `/metrics`, and readiness (database reachable, schema current).
///
/// ```swift
/// let database = try await DatabaseRuntime.start(runtime, defaultPoolSize: 8, queues: [.notifyEmail])
/// return [database.httpService(runtime.makeRouter()), database.consumer(queue: .notifyEmail, concurrency: 8, handler: …)]
/// ```
///
/// Connections open only when first used: a service that never consumes opens no LISTEN session
/// and no bookkeeping connection.
public final class DatabaseRuntime: Sendable {
    public let settings: DatabaseSettings
    public let configuration: PostgresConfiguration
    /// The service's own work: requests, handlers, transactional jobs with their acks.
    public let pool: PostgresPool
    /// Claims, acks of outside-effect jobs, retries, lease extensions and hand-backs, committed
    /// with `synchronous_commit = off` (see ``QueueConsumer``'s `bookkeepingPool`).
    public let bookkeepingPool: PostgresPool
    /// Enqueues in the caller's transaction; wakes consumers through the one-connection notifier.
    public let queue: JobQueue
    public let migrator: Migrator
    /// The queues the service produces or consumes (their figures are on `/metrics`).
    public let queues: Set<QueueName>
    private let runtime: ServiceRuntime
    private let lazyListener = Mutex<PostgresListener?>(nil)

    private init(runtime: ServiceRuntime, settings: DatabaseSettings, configuration: PostgresConfiguration, queues: Set<QueueName>) {
        self.runtime = runtime
        self.settings = settings
        self.configuration = configuration
        self.queues = queues
        pool = PostgresPool(configuration: configuration, pool: PostgresPoolConfiguration(maxConnections: settings.poolSize), logger: runtime.logger)
        bookkeepingPool = .queueBookkeeping(configuration, logger: runtime.logger)
        let notifierPool = PostgresPool(configuration: configuration, pool: PostgresPoolConfiguration(maxConnections: 1), logger: runtime.logger)
        queue = JobQueue(pool: pool, notifier: QueueNotifier(pool: notifierPool, logger: runtime.logger))
        migrator = Migrator(serviceRole: settings.migration.serviceRole, logger: runtime.logger)
    }

    /// Reads ``DatabaseSettings``, applies missing migrations when `MIGRATE_ON_START` is on, and
    /// registers the statistics of `queues` on the runtime's metrics.
    /// - Parameters:
    ///   - defaultPoolSize: `DATABASE_POOL_SIZE` when unset.
    ///   - queues: every queue the service produces or consumes.
    ///   - customPlans: see ``PostgresConfiguration/customPlans`` (the inbox's filtered lists).
    public static func start(
        _ runtime: ServiceRuntime, environment: Environment = Environment(), defaultPoolSize: Int,
        queues: Set<QueueName>, customPlans: Bool = false
    ) async throws -> DatabaseRuntime {
        let settings = try DatabaseSettings(environment: environment, defaultPoolSize: defaultPoolSize)
        let configuration = PostgresConfiguration(
            url: runtime.configuration.databaseURL, applicationName: runtime.configuration.serviceName, customPlans: customPlans)
        let database = DatabaseRuntime(runtime: runtime, settings: settings, configuration: configuration, queues: queues)
        if settings.migrateOnStart, let ownerURL = settings.migration.databaseURL {
            try await database.migrator.migrate(url: ownerURL, applicationName: runtime.configuration.serviceName + "-migrate")
        } else {
            runtime.logger.info("not migrating at start (MIGRATION_DATABASE_URL unset or MIGRATE_ON_START=false); /readyz waits for `amtsweg migrate`")
        }
        if !queues.isEmpty { database.queue.registerStatistics(in: runtime.metrics, queues: queues) }
        return database
    }

    /// The process's one LISTEN session, opened on first use.
    public var listener: PostgresListener {
        lazyListener.withLock { listener in
            if let listener { return listener }
            let made = PostgresListener(configuration: configuration, logger: runtime.logger)
            listener = made
            return made
        }
    }

    /// How long `/readyz` waits for the database. While it is away the pool keeps trying to
    /// connect for its whole acquire timeout (15 s), longer than a probe waits: the probe would
    /// time out instead of reading 503.
    public static let readinessTimeout: Duration = .seconds(2)

    /// `/readyz`: the database answers (within ``readinessTimeout``) and every migration of this
    /// build is applied.
    public func readiness() async -> ReadinessReport {
        guard await pingWithin(Self.readinessTimeout) else {
            return ReadinessReport(checks: [ReadinessCheck(name: "database", isReady: false, detail: "database not reachable")])
        }
        let current = (try? await migrator.status(pool).isCurrent) ?? false
        return ReadinessReport(checks: [
            ReadinessCheck(name: "database", isReady: true),
            ReadinessCheck(name: "migrations", isReady: current, detail: current ? nil : "migrations not current"),
        ])
    }

    /// Whether the pool answers `SELECT 1` within `timeout`. The ping is left to finish on its
    /// own (the pool's acquire does not stop early), so a late answer only comes too late.
    private func pingWithin(_ timeout: Duration) async -> Bool {
        let waiting = Mutex<CheckedContinuation<Bool, Never>?>(nil)
        let answer: @Sendable (Bool) -> Void = { ready in
            waiting.withLock { continuation in
                continuation?.resume(returning: ready)
                continuation = nil
            }
        }
        return await withCheckedContinuation { continuation in
            waiting.withLock { $0 = continuation }
            let pool = pool
            Task { answer(await pool.ping()) }
            Task {
                try? await Task.sleep(for: timeout)
                answer(false)
            }
        }
    }

    /// The runtime's HTTP server for `router` (with `/healthz`, `/metrics`, and this database's
    /// `/readyz`, which also shows each of `dependencies` — degraded while unreachable, never
    /// failing the database check).
    public func httpService(_ router: Router, dependencies: [DependencyProbe] = []) -> HTTPService {
        runtime.httpService(router: router, readiness: { [self] in
            var report = await readiness()
            for dependency in dependencies { report = report.adding([await dependency.check()]) }
            return report
        })
    }

    /// A consumer of `queue` on this database (service pool, bookkeeping pool, the LISTEN session),
    /// whose running jobs get the runtime's ``ServiceConfiguration/inFlightGracePeriod`` after SIGTERM.
    public func consumer(
        queue name: QueueName, batchSize: Int = 100, concurrency: Int, leaseDuration: Duration = .seconds(60),
        pollInterval: Duration = .seconds(5), backoff: BackoffPolicy = .init(), handler: QueueConsumer.Handler,
        afterStop: @escaping @Sendable () -> Void = {}
    ) -> QueueConsumerService {
        precondition(queues.contains(name), "queue \(name) is not among the service's queues")
        let consumer = QueueConsumer(
            pool: pool, bookkeepingPool: bookkeepingPool, listener: listener,
            configuration: ConsumerConfiguration(
                queue: name, batchSize: batchSize, concurrency: concurrency, leaseDuration: leaseDuration,
                pollInterval: pollInterval, backoff: backoff, shutdownDeadline: runtime.configuration.inFlightGracePeriod),
            handler: handler, logger: runtime.logger, metrics: runtime.metrics)
        return QueueConsumerService(consumer: consumer, afterStop: afterStop)
    }
}
