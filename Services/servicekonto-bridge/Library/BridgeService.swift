import FoundationEssentials
import JobQueue
import Logging
import Metrics
import Postgres
import Schema
import Servicekonto
import ServiceRuntime

/// The bridge's long-running parts: the `citizen-outbox` consumer and the reply poller.
public final class ServicekontoBridge: Sendable {
    public let client: ServicekontoClient
    public let consumer: QueueConsumer
    public let poller: ReplyPoller
    public let configuration: BridgeConfiguration

    /// - Parameter bookkeepingPool: the consumer's claims and acks (see ``QueueConsumer``); nil = `pool`.
    public init(pool: PostgresPool, bookkeepingPool: PostgresPool? = nil, listener: PostgresListener?, queue: JobQueue,
                configuration: BridgeConfiguration, logger: Logger, metrics: MetricsRegistry) {
        self.configuration = configuration
        client = ServicekontoClient(configuration.client)
        let handler = OutboxHandler(pool: pool, deliveryPool: bookkeepingPool, queue: queue, client: client,
                                    configuration: configuration, logger: logger, metrics: metrics)
        consumer = QueueConsumer(
            pool: pool, bookkeepingPool: bookkeepingPool, listener: listener,
            configuration: ConsumerConfiguration(
                queue: .citizenOutbox, batchSize: 100, concurrency: configuration.concurrency,
                leaseDuration: configuration.leaseDuration, pollInterval: configuration.pollInterval, backoff: configuration.backoff),
            handler: .effects(handler), logger: logger, metrics: metrics)
        poller = ReplyPoller(pool: pool, queue: queue, client: client, configuration: configuration, logger: logger, metrics: metrics)
    }

    /// The services to run: the consumer, and the poller when enabled.
    public var services: [any Service] {
        var list: [any Service] = [ConsumerService(consumer: consumer)]
        if configuration.replyPolling { list.append(poller) }
        return list
    }

    public func shutdown() { client.shutdown() }
}

/// Runs a ``QueueConsumer`` as a ``Service``: stops claiming on shutdown and returns once the
/// running jobs are finished or handed back.
public struct ConsumerService: Service {
    public let consumer: QueueConsumer
    public var name: String { "consumer-" + consumer.configuration.queue.rawValue }

    public init(consumer: QueueConsumer) { self.consumer = consumer }

    public func run(shutdown: ShutdownSignal) async throws {
        let consumer = consumer
        async let running: Void = consumer.run()
        await shutdown.wait()
        consumer.stop()
        await running
    }
}

/// Builds servicekonto-bridge from the environment.
public enum BridgeService {
    public static func makeServices(_ runtime: ServiceRuntime, environment: Environment = Environment()) async throws -> [any Service] {
        let bridgeConfiguration = try BridgeConfiguration(environment: environment)
        let poolSize = try environment.int("DATABASE_POOL_SIZE", default: 16, range: 1...500)
        let migrate = try environment.bool("MIGRATE_ON_START", default: true)
        let configuration = PostgresConfiguration(url: runtime.configuration.databaseURL, applicationName: "servicekonto-bridge")
        let pool = PostgresPool(configuration: configuration, pool: PostgresPoolConfiguration(maxConnections: poolSize), logger: runtime.logger)
        let notifyPool = PostgresPool(configuration: configuration, pool: PostgresPoolConfiguration(maxConnections: 1), logger: runtime.logger)
        let migrator = Migrator(logger: runtime.logger)
        if migrate { try await migrator.migrate(pool) }
        let queue = JobQueue(pool: pool, notifier: QueueNotifier(pool: notifyPool, logger: runtime.logger))
        let listener = PostgresListener(configuration: configuration, logger: runtime.logger)
        let bridge = ServicekontoBridge(
            pool: pool, bookkeepingPool: .queueBookkeeping(configuration, logger: runtime.logger), listener: listener, queue: queue,
            configuration: bridgeConfiguration, logger: runtime.logger, metrics: runtime.metrics)
        var router = runtime.makeRouter()
        router.get("/v1/bridge") { _ in
            struct Info: Encodable { var servicekonto_url: String; var reply_polling: Bool }
            return try .json(Info(servicekonto_url: bridgeConfiguration.client.baseURL, reply_polling: bridgeConfiguration.replyPolling))
        }
        let http = runtime.httpService(router: router, readiness: {
            guard await pool.ping() else {
                return ReadinessReport(checks: [ReadinessCheck(name: "database", isReady: false, detail: "database not reachable")])
            }
            let current = (try? await migrator.status(pool).isCurrent) ?? false
            return ReadinessReport(checks: [
                ReadinessCheck(name: "database", isReady: true),
                ReadinessCheck(name: "migrations", isReady: current, detail: current ? nil : "migrations not current"),
            ])
        })
        return [http] + bridge.services
    }
}
