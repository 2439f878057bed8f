import Foundation
import JobQueue
import QueueContracts
import Logging
import Mail
import MailTestSupport
import Metrics
import NotificationService
import Postgres
import TestSupport

/// One tenant with a service, an area and caseworkers in various states, and an application
/// whose applicant has a name and e-mail that must never show up in a notification.
struct Seed {
    static let applicantName = "Erika Mustermann"
    static let applicantEmail = "erika.mustermann@example.org"
    static let reference = "ERK-2026-000123"

    var tenant: UUID
    var application: UUID
    /// Active, wants e-mail, member of the application's area.
    var member: UUID
    var deactivated: UUID
    var emailOff: UUID
    /// Active, not in the area.
    var outsider: UUID
    /// Not in the area, but holds (claimed) a second application.
    var claimer: UUID
    var claimedApplication: UUID

    static func make(_ db: TestDatabase) async throws -> Seed {
        let pool = db.pool
        let tenant = try await db.scalar("""
            INSERT INTO tenants (slug, name, reference_prefix) VALUES ('erkrath', 'Stadt Erkrath', 'ERK') RETURNING id
            """, as: UUID.self)
        let service = try await db.scalar("""
            INSERT INTO services (tenant_id, key, name) VALUES (\(tenant), 'anwohnerparken', 'Anwohnerparkausweis (Änderung)') RETURNING id
            """, as: UUID.self)
        let area = try await db.scalar("""
            INSERT INTO responsibility_areas (tenant_id, service_id, name) VALUES (\(tenant), \(service), 'Straßenverkehr') RETURNING id
            """, as: UUID.self)
        func caseworker(_ name: String, active: Bool = true, email: Bool = true, inArea: Bool = true) async throws -> UUID {
            let id = try await db.scalar("""
                INSERT INTO caseworkers (tenant_id, name, email, active, email_notifications)
                VALUES (\(tenant), \(name), \(name.lowercased() + "@erkrath.de"), \(active), \(email)) RETURNING id
                """, as: UUID.self)
            if inArea {
                try await pool.query("INSERT INTO area_members (tenant_id, area_id, caseworker_id) VALUES (\(tenant), \(area), \(id))")
            }
            return id
        }
        let member = try await caseworker("Sachbearbeitung")
        let deactivated = try await caseworker("Ehemalig", active: false)
        let emailOff = try await caseworker("Stumm", email: false)
        let outsider = try await caseworker("Fremd", inArea: false)
        let claimer = try await caseworker("Halter", inArea: false)
        let applicant = #"{"name": "\#(applicantName)", "email": "\#(applicantEmail)", "address": {"street": "Musterweg 1", "postal_code": "40699", "city": "Erkrath"}}"#
        func application(_ reference: String, claimedBy: UUID?) async throws -> UUID {
            let status = claimedBy == nil ? "assigned" : "in_progress"
            return try await db.scalar("""
                INSERT INTO applications (tenant_id, service_id, reference, status, area_id, claimed_by, applicant, form, submitted_at)
                VALUES (\(tenant), \(service), \(reference), \(status), \(area), \(claimedBy), \(applicant)::jsonb, '{}'::jsonb, now())
                RETURNING id
                """, as: UUID.self)
        }
        return Seed(
            tenant: tenant, application: try await application(reference, claimedBy: nil),
            member: member, deactivated: deactivated, emailOff: emailOff, outsider: outsider,
            claimer: claimer, claimedApplication: try await application("ERK-2026-000124", claimedBy: claimer))
    }

    /// Not deduplicated: each test says how many jobs it wants.
    func job(_ kind: NotifyEmailJob.Kind, to caseworker: UUID, application: UUID? = nil, maxAttempts: Int? = nil) throws -> NewJob {
        try NewJob(
            NotifyEmailJob(kind: kind, applicationID: application ?? self.application, caseworkerID: caseworker),
            tenantID: tenant, maxAttempts: maxAttempts, deduplicated: false)
    }
}

/// A migrated database, a queue, and an in-process notify-email consumer sending to `smtpURL`.
final class Harness: @unchecked Sendable {
    let db: TestDatabase
    let queue: JobQueue
    let metrics = MetricsRegistry()
    private var consumer: QueueConsumer?
    private var task: Task<Void, Never>?
    private var listener: PostgresListener?
    private var transport: (any MailTransport)?

    init() async throws {
        db = try await TestDatabase.make()
        let notifierPool = PostgresPool(configuration: db.configuration, pool: .init(maxConnections: 1), logger: db.logger)
        queue = JobQueue(pool: db.pool, notifier: QueueNotifier(pool: notifierPool, logger: db.logger))
    }

    func startConsumer(smtpURL: String) throws {
        let transport = try makeMailTransport(SMTPConfiguration(
            url: smtpURL, startTLS: .off, from: try MailAddress("noreply@erkrath.de", displayName: "Amtsweg"),
            connectTimeout: .seconds(2), transferTimeout: .seconds(10), connections: 1))
        let handler = NotificationHandler(
            pool: db.pool, transport: transport, sender: try MailAddress("noreply@erkrath.de"),
            inboxURL: "https://inbox.erkrath.example/", logger: db.logger, metrics: metrics)
        let listener = PostgresListener(configuration: db.configuration, logger: db.logger)
        let consumer = QueueConsumer(
            pool: db.pool, listener: listener,
            configuration: ConsumerConfiguration(
                queue: .notifyEmail, concurrency: 4, pollInterval: .milliseconds(200),
                backoff: BackoffPolicy(base: .milliseconds(200), maximum: .milliseconds(500))),
            handler: .effects(handler), logger: db.logger, metrics: metrics)
        self.transport = transport
        self.listener = listener
        self.consumer = consumer
        task = Task { await consumer.run() }
    }

    func stop() async {
        consumer?.stop()
        await task?.value
        listener?.stop()
        transport?.shutdown()
    }

    func jobsLeft() async throws -> Int {
        try await db.scalar("SELECT count(*)::int FROM queue_jobs WHERE queue = 'notify-email'", as: Int.self)
    }

    func counter(_ name: String, _ labels: MetricLabels) -> Double {
        metrics.counter(name, help: "").value(labels)
    }
}

/// The Message-ID header of each saved message (read without Python, for many files).
func messageIDs(_ server: SMTPServer) throws -> [String] {
    try server.messages().map { path in
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let line = text.components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID: ") } ?? ""
        return String(line.dropFirst("Message-ID: ".count))
    }
}
