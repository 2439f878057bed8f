import JobQueue
import Logging
import Mail
import Metrics
import ServiceRuntime
import ServiceWiring

/// Builds the notification service: a `notify-email` consumer sending over SMTP (or into a spool
/// folder), plus the HTTP server for `/healthz`, `/readyz` and `/metrics` (database settings: see
/// ``DatabaseSettings``; default pool 8). `/readyz` shows the relay as the check `smtp`, degraded
/// while it cannot be reached (``DependencyProbe``).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `SMTP_*` | transport, see `SMTPConfiguration` | spool into `/tmp/amtsweg-mail` |
/// | `PUBLIC_INBOX_URL` | base of the link in every e-mail (`…/applications/<id>`) | `http://localhost:8082` |
/// | `NOTIFY_CONCURRENCY` | e-mails in flight at once | `8` |
/// | `NOTIFY_LEASE_SECONDS` | how long a claim holds a job before another replica may take it | `60` |
public enum NotificationService {
    public static func makeServices(_ runtime: ServiceRuntime, environment: Environment = Environment()) async throws -> [any Service] {
        let smtp = try SMTPConfiguration(environment: environment)
        let inboxURL = try environment.string("PUBLIC_INBOX_URL", default: "http://localhost:8082")
        let concurrency = try environment.int("NOTIFY_CONCURRENCY", default: 8, range: 1...256)
        let leaseSeconds = try environment.int("NOTIFY_LEASE_SECONDS", default: 60, range: 1...3600)
        let database = try await DatabaseRuntime.start(runtime, environment: environment, defaultPoolSize: 8, queues: [.notifyEmail])
        let transport = try makeMailTransport(smtp)
        if let smtpTransport = transport as? SMTPTransport {
            runtime.metrics.addCollector {
                [MetricSample(
                    name: "amtsweg_smtp_connections_opened_total", help: "SMTP connections libcurl opened (a burst reuses them)",
                    type: .counter, labels: [:], value: Double(smtpTransport.connectionsOpened))]
            }
        }
        runtime.logger.info("mail transport", ["endpoint": describe(try smtp.endpoint), "connections": String(smtp.connections)])
        let handler = NotificationHandler(
            pool: database.pool, transport: transport, sender: smtp.from, inboxURL: inboxURL, logger: runtime.logger, metrics: runtime.metrics)
        let relay: DependencyProbe? = switch try smtp.endpoint {
        case .smtp(let url): DependencyProbe.endpoint(ofURL: url).map { DependencyProbe(name: "smtp", endpoints: [$0]) }
        case .spool: nil
        }
        return [
            database.httpService(runtime.makeRouter(), dependencies: relay.map { [$0] } ?? []),
            database.consumer(queue: .notifyEmail, concurrency: concurrency, leaseDuration: .seconds(leaseSeconds),
                              handler: .effects(handler), afterStop: { transport.shutdown() }),
        ]
    }

    static func describe(_ endpoint: SMTPConfiguration.Endpoint) -> String {
        switch endpoint {
        case .smtp(let url): url
        case .spool(let directory): "spool " + directory
        }
    }
}
