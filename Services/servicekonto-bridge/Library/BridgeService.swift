import FoundationEssentials
import JobQueue
import Logging
import Metrics
import Postgres
import Servicekonto
import ServiceRuntime
import ServiceWiring

/// The bridge's long-running parts: the `citizen-outbox` consumer and the reply poller.
public final class ServicekontoBridge: Sendable {
    public let client: ServicekontoClient
    public let consumer: QueueConsumer
    public let poller: ReplyPoller
    public let configuration: BridgeConfiguration

    /// - Parameters:
    ///   - bookkeepingPool: the consumer's claims and acks (see ``QueueConsumer``); nil = `pool`.
    ///   - shutdownDeadline: how long running deliveries may take after shutdown is asked for
    ///     (the service passes its `ServiceConfiguration.inFlightGracePeriod`).
    public init(pool: PostgresPool, bookkeepingPool: PostgresPool? = nil, listener: PostgresListener?, queue: JobQueue,
                configuration: BridgeConfiguration, shutdownDeadline: Duration = .seconds(10), logger: Logger, metrics: MetricsRegistry) {
        self.configuration = configuration
        client = ServicekontoClient(configuration.client)
        let handler = OutboxHandler(pool: pool, deliveryPool: bookkeepingPool, queue: queue, client: client,
                                    configuration: configuration, logger: logger, metrics: metrics)
        consumer = QueueConsumer(
            pool: pool, bookkeepingPool: bookkeepingPool, listener: listener,
            configuration: ConsumerConfiguration(
                queue: .citizenOutbox, batchSize: 100, concurrency: configuration.concurrency,
                leaseDuration: configuration.leaseDuration, pollInterval: configuration.pollInterval, backoff: configuration.backoff,
                shutdownDeadline: shutdownDeadline),
            handler: .effects(handler), logger: logger, metrics: metrics)
        poller = ReplyPoller(pool: pool, queue: queue, client: client, configuration: configuration, logger: logger, metrics: metrics)
    }

    /// The services to run: the consumer, and the poller when enabled.
    public var services: [any Service] {
        var list: [any Service] = [QueueConsumerService(consumer: consumer)]
        if configuration.replyPolling { list.append(poller) }
        return list
    }

    public func shutdown() { client.shutdown() }
}

/// Builds servicekonto-bridge from the environment (database settings: see ``DatabaseSettings``;
/// default pool 16). `/readyz` shows the postbox API and its token endpoint as the check
/// `postbox`, degraded while either cannot be reached (``DependencyProbe``).
public enum BridgeService {
    public static func makeServices(_ runtime: ServiceRuntime, environment: Environment = Environment()) async throws -> [any Service] {
        let bridgeConfiguration = try BridgeConfiguration(environment: environment)
        // citizen-outbox: consumed; citizen-reply: the applicants' replies; notify-email: failed deliveries.
        let database = try await DatabaseRuntime.start(
            runtime, environment: environment, defaultPoolSize: 16, queues: [.citizenOutbox, .citizenReply, .notifyEmail])
        let bridge = ServicekontoBridge(
            pool: database.pool, bookkeepingPool: database.bookkeepingPool, listener: database.listener, queue: database.queue,
            configuration: bridgeConfiguration, shutdownDeadline: runtime.configuration.inFlightGracePeriod,
            logger: runtime.logger, metrics: runtime.metrics)
        var router = runtime.makeRouter()
        router.get("/v1/bridge") { _ in
            struct Info: Encodable { var servicekonto_url: String; var reply_polling: Bool }
            return try .json(Info(servicekonto_url: bridgeConfiguration.client.baseURL, reply_polling: bridgeConfiguration.replyPolling))
        }
        let client = bridgeConfiguration.client
        var endpoints: [DependencyProbe.Endpoint] = []
        for url in [client.baseURL] + (client.credentials.map { [$0.tokenURL] } ?? []) {
            if let endpoint = DependencyProbe.endpoint(ofURL: url), !endpoints.contains(endpoint) { endpoints.append(endpoint) }
        }
        let postbox = DependencyProbe(name: "postbox", endpoints: endpoints)
        let http = database.httpService(router, dependencies: [postbox])
        return [http] + bridge.services
    }
}
