import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HTTPServer
import Logging
import Metrics

/// What every Amtsweg executable starts with: configuration from the environment, a JSON-lines
/// logger, a metrics registry, an HTTP server with `/healthz`, `/readyz` and `/metrics`, and a
/// service group that stops everything on SIGTERM/SIGINT.
///
/// ```swift
/// // main.swift
/// await ServiceRuntime.main(serviceName: "intake", defaultPort: 8081) { runtime in
///     var router = runtime.makeRouter()
///     router.post("/v1/applications", bodyLimit: 20 << 20) { context in … }
///     let database = …   // uses runtime.configuration.databaseURL
///     return [
///         runtime.httpService(router: router, readiness: { await database.readiness() }),
///         consumer,                                                      // any other Service
///     ]
/// }
/// ```
public struct ServiceRuntime: Sendable {
    public let configuration: ServiceConfiguration
    public let logger: Logger
    public let metrics: MetricsRegistry

    public init(configuration: ServiceConfiguration, logSink: any LogSink = StandardOutputSink.shared) {
        self.configuration = configuration
        logger = Logger(service: configuration.serviceName, minimumLevel: configuration.logLevel, sink: logSink)
        metrics = MetricsRegistry()
        ProcessMetrics.register(in: metrics)
    }

    /// A router that logs with this service's logger and records request metrics.
    public func makeRouter() -> Router {
        Router(logger: logger, metrics: metrics)
    }

    /// The HTTP server for `router`, with the operational routes added, as a ``Service``.
    /// - Parameter adjust: a last chance to change the server configuration (limits, timeouts).
    public func httpService(
        router: Router, readiness: @escaping ReadinessProbe,
        adjust: (inout HTTPServerConfiguration) -> Void = { _ in }
    ) -> HTTPService {
        var router = router
        router.addOperationalRoutes(metrics: metrics, readiness: readiness)
        var serverConfiguration = configuration.httpServerConfiguration
        adjust(&serverConfiguration)
        return HTTPService(server: HTTPServer(configuration: serverConfiguration, logger: logger, metrics: metrics, responder: router))
    }

    /// Runs `services` until SIGTERM/SIGINT or until one of them fails.
    public func run(_ services: [any Service]) async throws {
        raiseOpenFileLimit(toAtLeast: configuration.maxConnections + 1024)
        logger.info("starting", [
            "http": "\(configuration.httpHost):\(configuration.httpPort)",
            "database": configuration.redactedDatabaseURL,
            "services": services.map(\.name).joined(separator: ","),
        ])
        try await ServiceGroup(services: services, logger: logger, gracePeriod: configuration.shutdownGracePeriod).run()
        logger.info("stopped")
    }

    /// Each connection is a descriptor: raise the soft `RLIMIT_NOFILE` towards what the connection
    /// cap needs (never above the hard limit), and say so when it cannot be reached.
    private func raiseOpenFileLimit(toAtLeast wanted: Int) {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
        limit.rlim_cur = min(rlim_t(wanted), limit.rlim_max)
        _ = setrlimit(resource, &limit)
        if limit.rlim_cur < rlim_t(wanted) {
            logger.warning("open-file limit is below what HTTP_MAX_CONNECTIONS needs", [
                "limit": String(limit.rlim_cur), "needed": String(wanted),
            ])
        }
    }

    /// The whole life of an executable: reads the configuration, builds the services with
    /// `setup`, runs them, and exits 0 after a clean shutdown or 1 after a failure. A bad variable
    /// — of the runtime's own or a ``ConfigurationError`` that `setup` throws — is reported on
    /// stderr and as a log line, exit status 2.
    public static func main(
        serviceName: String, defaultPort: Int, environment: Environment = Environment(),
        _ setup: (ServiceRuntime) async throws -> [any Service]
    ) async -> Never {
        let runtime: ServiceRuntime
        do {
            runtime = ServiceRuntime(configuration: try ServiceConfiguration(serviceName: serviceName, defaultPort: defaultPort, environment: environment))
        } catch {
            exitForInvalidConfiguration(error, logger: Logger(service: serviceName))
        }
        let services: [any Service]
        do {
            services = try await setup(runtime)
        } catch let error as ConfigurationError {
            exitForInvalidConfiguration(error, logger: runtime.logger)
        } catch {
            runtime.logger.error("exiting after failure", ["error": String(describing: error)])
            exit(1)
        }
        do {
            try await runtime.run(services)
            exit(0)
        } catch {
            runtime.logger.error("exiting after failure", ["error": String(describing: error)])
            exit(1)
        }
    }

    private static func exitForInvalidConfiguration(_ error: any Error, logger: Logger) -> Never {
        let message = Array("\(logger.service): \(error)\n".utf8)
        _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        logger.error("invalid configuration", ["error": String(describing: error)])
        exit(2)
    }
}
