// End to end: N notify-email jobs on a private PostgreSQL, consumed by the notification
// service's handler (recipient lookup, template, SMTP over libcurl) and sent to the SMTP server
// in SMTP_URL. Prints mails/s and the connections libcurl opened.
// Usage: notification-bench [jobs] [consumer concurrency]   (SMTP_* variables as for the service)
import Foundation
import JobQueue
import QueueContracts
import Logging
import Mail
import Metrics
import NotificationService
import Postgres
import ServiceRuntime
import TestSupport

let arguments = CommandLine.arguments
let count = arguments.count > 1 ? Int(arguments[1]) ?? 5000 : 5000
let concurrency = arguments.count > 2 ? Int(arguments[2]) ?? 8 : 8
let smtp = try SMTPConfiguration(environment: Environment())
let logger = Logger(service: "notification-bench", minimumLevel: .warning)

let server = try await PostgresTestServer.start(options: .init(durable: true))
defer { server.stop() }
let url = try await server.makeDatabase(migrated: true)
let configuration = PostgresConfiguration(url: url, applicationName: "notification-bench")
let pool = PostgresPool(configuration: configuration, pool: .init(maxConnections: 8), logger: logger)

func scalar(_ query: SQLQuery) async throws -> UUID { try await pool.query(query)[0].decode(at: 0, as: UUID.self) }
let tenant = try await scalar("INSERT INTO tenants (slug, name, reference_prefix) VALUES ('erkrath', 'Stadt Erkrath', 'ERK') RETURNING id")
let service = try await scalar("INSERT INTO services (tenant_id, key, name) VALUES (\(tenant), 'anwohnerparken', 'Anwohnerparkausweis') RETURNING id")
let area = try await scalar("INSERT INTO responsibility_areas (tenant_id, service_id, name) VALUES (\(tenant), \(service), 'Straßenverkehr') RETURNING id")
let caseworker = try await scalar("INSERT INTO caseworkers (tenant_id, name, email) VALUES (\(tenant), 'SB', 'sb@erkrath.de') RETURNING id")
try await pool.query("INSERT INTO area_members (tenant_id, area_id, caseworker_id) VALUES (\(tenant), \(area), \(caseworker))")
let application = try await scalar("""
    INSERT INTO applications (tenant_id, service_id, reference, status, area_id, applicant, form, submitted_at)
    VALUES (\(tenant), \(service), 'ERK-2026-000001', 'assigned', \(area), '{"name": "X"}'::jsonb, '{}'::jsonb, now()) RETURNING id
    """)

let queue = JobQueue(pool: pool, notifier: nil)
let payload = NotifyEmailJob(kind: .newApplication, applicationID: application, caseworkerID: caseworker)
var enqueued = 0
while enqueued < count {
    let batch = try (enqueued..<min(enqueued + 1000, count)).map { _ in try NewJob(payload, tenantID: tenant, deduplicated: false) }
    _ = try await pool.withTransaction { try await queue.enqueue(batch, in: $0) }
    enqueued += batch.count
}

let transport = try makeMailTransport(smtp)
let metrics = MetricsRegistry()
let handler = NotificationHandler(pool: pool, transport: transport, sender: smtp.from, inboxURL: "https://inbox.example", logger: logger, metrics: metrics)
let consumer = QueueConsumer(
    pool: pool, listener: nil,
    configuration: ConsumerConfiguration(queue: .notifyEmail, concurrency: concurrency, pollInterval: .milliseconds(50)),
    handler: .effects(handler), logger: logger, metrics: metrics)

let clock = ContinuousClock()
let start = clock.now
let task = Task { await consumer.run() }
while try await pool.query("SELECT count(*)::int FROM queue_jobs WHERE queue = 'notify-email'")[0].decode(at: 0, as: Int.self) > 0 {
    try await Task.sleep(for: .milliseconds(20))
}
let elapsed = clock.now - start
consumer.stop()
await task.value
transport.shutdown()
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let sent = metrics.counter("amtsweg_notification_emails_sent_total", help: "").value(["kind": "new_application"])
let dead = try await queue.deadLetters().count
print("notifications: \(Int(sent)) sent, \(dead) dead in \((seconds * 1000).rounded() / 1000) s (jobs enqueued before the consumer started)")
print("rate: \(Int((sent / seconds).rounded())) mails/s (consumer concurrency \(concurrency), SMTP connections \(smtp.connections))")
print("connections opened (libcurl): \((transport as? SMTPTransport)?.connectionsOpened ?? 0)")
await pool.close()
