import Foundation
import HTTPClient
import HTTPServer
import JobQueue
import QueueContracts
import Logging
import Metrics
import Postgres
import Servicekonto
import ServicekontoBridge
import ServicekontoSandbox
import ServiceRuntime
import TestSupport

/// A fresh database, a postbox sandbox on an ephemeral loopback port (real HTTP), and helpers
/// to seed applications and messages and to run the bridge in this process.
final class Harness: Sendable {
    let db: TestDatabase
    let sandbox: Sandbox
    let server: HTTPServer
    let queue: JobQueue
    let baseURL: String
    let inspector: HTTPClient

    static let clientID = "amtsweg-test"
    static let clientSecret = "s3cret:with&odd=chars"

    private init(db: TestDatabase, sandbox: Sandbox, server: HTTPServer) {
        self.db = db
        self.sandbox = sandbox
        self.server = server
        queue = JobQueue(pool: db.pool, notifier: nil)
        baseURL = "http://127.0.0.1:\(server.port!)"
        inspector = HTTPClient(HTTPClientConfiguration(connections: 1))
    }

    static func make(faults: FaultInjection = .none, tokenLifetime: Duration = .seconds(3600)) async throws -> Harness {
        let db = try await TestDatabase.make(maxConnections: 20)
        let sandbox = Sandbox(configuration: SandboxConfiguration(
            requireAuth: true, clientID: clientID, clientSecret: clientSecret, tokenLifetime: tokenLifetime, faults: faults))
        // Injected drops log an error each: keep the test output readable.
        let logger = Logger(service: "sandbox", minimumLevel: .error, sink: DiscardingSink())
        var router = Router(logger: logger)
        sandbox.register(on: &router)
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.limits.maxBodyBytes = 64 << 20
        let server = HTTPServer(configuration: configuration, logger: logger, responder: router)
        try server.start()
        return Harness(db: db, sandbox: sandbox, server: server)
    }

    func close() async {
        inspector.shutdown()
        await server.shutdown()
        await db.pool.close()
    }

    func bridgeConfiguration(concurrency: Int = 16, replyPolling: Bool = false, replyPollInterval: Duration = .milliseconds(100)) -> BridgeConfiguration {
        BridgeConfiguration(
            client: ServicekontoClientConfiguration(
                baseURL: baseURL,
                credentials: OAuth2ClientCredentialsConfiguration(tokenURL: baseURL + "/oauth/token", clientID: Self.clientID, clientSecret: Self.clientSecret),
                http: HTTPClientConfiguration(connections: 8, connectTimeout: .seconds(2), requestTimeout: .seconds(10))),
            concurrency: concurrency, backoff: BackoffPolicy(base: .milliseconds(50), maximum: .milliseconds(800)),
            replyPolling: replyPolling, replyPollInterval: replyPollInterval, replyPageSize: 3,
            orderRecheck: .milliseconds(50), pollInterval: .milliseconds(200))
    }

    /// Runs a bridge (consumer and, when configured, the reply poller) until `stop()`.
    func startBridge(_ configuration: BridgeConfiguration) -> RunningBridge {
        let logger = Logger(service: "bridge", minimumLevel: .error)
        let listener = PostgresListener(configuration: db.configuration, logger: logger)
        let bridge = ServicekontoBridge(pool: db.pool, listener: listener, queue: queue, configuration: configuration, logger: logger, metrics: MetricsRegistry())
        let shutdown = ShutdownSignal()
        let services = bridge.services
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                for service in services { group.addTask { try? await service.run(shutdown: shutdown) } }
            }
        }
        return RunningBridge(bridge: bridge, shutdown: shutdown, task: task, listener: listener)
    }

    // MARK: Seeding

    struct Fixture: Sendable {
        var tenantID: UUID
        var serviceID: UUID
        var areaID: UUID
        var caseworkerID: UUID
    }

    func seedTenant(decisionsAllowed: Bool = false, documentTrustLevel: String = "substantial") async throws -> Fixture {
        try await db.pool.withTransaction { tx in
            let tenant: UUID = try await tx.query("""
                INSERT INTO tenants (slug, name, reference_prefix, decisions_via_back_channel)
                VALUES ('erkelenz', 'Stadt Erkelenz', 'ERK', \(decisionsAllowed)) RETURNING id
                """)[0].decode("id")
            let service: UUID = try await tx.query("""
                INSERT INTO services (tenant_id, key, name, document_trust_level)
                VALUES (\(tenant), 'parking', 'Anwohnerparkausweis', \(documentTrustLevel)) RETURNING id
                """)[0].decode("id")
            let area: UUID = try await tx.query("""
                INSERT INTO responsibility_areas (tenant_id, service_id, name) VALUES (\(tenant), \(service), 'Bürgerbüro') RETURNING id
                """)[0].decode("id")
            let caseworker: UUID = try await tx.query("""
                INSERT INTO caseworkers (tenant_id, name, email) VALUES (\(tenant), 'Erika Muster', 'erika@example.org') RETURNING id
                """)[0].decode("id")
            return Fixture(tenantID: tenant, serviceID: service, areaID: area, caseworkerID: caseworker)
        }
    }

    /// `count` applications in progress, claimed by the fixture's caseworker, each with its own
    /// postbox (nil `trustLevel`: no postbox).
    func seedApplications(_ fixture: Fixture, count: Int = 1, trustLevel: String? = "substantial", consent: Bool = true) async throws -> [(id: UUID, mailbox: UUID?)] {
        let rows = try await db.pool.query("""
            INSERT INTO applications (tenant_id, service_id, reference, status, area_id, claimed_by, applicant, form,
                                      postbox_mailbox_id, postbox_trust_level, document_consent, submitted_at)
            SELECT \(fixture.tenantID), \(fixture.serviceID),
                   'ERK-2026-' || lpad((n + (SELECT count(*) FROM applications))::text, 6, '0'),
                   'in_progress', \(fixture.areaID), \(fixture.caseworkerID), '{"name": "Max Mustermann"}', '{}',
                   CASE WHEN \(trustLevel)::text IS NULL THEN NULL ELSE gen_random_uuid() END, \(trustLevel)::text,
                   \(consent) AND \(trustLevel)::text IS NOT NULL, now()
            FROM generate_series(1, \(count)) AS n
            RETURNING id, postbox_mailbox_id
            """)
        return try rows.map { (try $0.decode("id"), try $0.decode("postbox_mailbox_id", as: UUID?.self)) }
    }

    /// An outbound message in state `queued` (created now, by the database clock) and its
    /// `citizen-outbox` job.
    @discardableResult
    func queueMessage(
        _ fixture: Fixture, application: UUID, mailbox: UUID, kind: String, status: String? = nil,
        subject: String = "Ihr Antrag", body: String = "Guten Tag, …", trustLevel: String = "substantial",
        attachments: [(String, [UInt8])] = [], enqueue: Bool = true
    ) async throws -> UUID {
        let id = try await db.pool.withTransaction { tx -> UUID in
            let id: UUID = try await tx.query("""
                INSERT INTO messages (tenant_id, application_id, direction, kind, postbox_status, subject, body, trust_level,
                                      mailbox_id, delivery_state, created_at, sent_by)
                VALUES (\(fixture.tenantID), \(application), 'outbound', \(kind), \(status), \(subject), \(body), \(trustLevel),
                        \(mailbox), 'queued', clock_timestamp(), \(kind == "status" ? nil : fixture.caseworkerID))
                RETURNING id
                """)[0].decode("id")
            for (position, (name, bytes)) in attachments.enumerated() {
                let attachment: UUID = try await tx.query("""
                    INSERT INTO attachments (tenant_id, application_id, origin, position, filename, content_type, size_bytes, sha256, content)
                    VALUES (\(fixture.tenantID), \(application), 'caseworker', \(Int16(position)), \(name), 'application/pdf',
                            \(bytes.count), sha256(\(Data(bytes))), \(Data(bytes)))
                    RETURNING id
                    """)[0].decode("id")
                try await tx.query("""
                    INSERT INTO message_attachments (tenant_id, message_id, attachment_id) VALUES (\(fixture.tenantID), \(id), \(attachment))
                    """)
            }
            return id
        }
        if enqueue { try await enqueueOutbox([id], tenant: fixture.tenantID) }
        return id
    }

    func enqueueOutbox(_ ids: [UUID], tenant: UUID) async throws {
        try await db.pool.withTransaction { tx in
            _ = try await queue.enqueue(try ids.map { try NewJob(CitizenOutboxJob(messageID: $0), tenantID: tenant) }, in: tx)
        }
    }

    // MARK: Reading state

    struct MessageState: Sendable {
        var deliveryState: String
        var failureReason: String?
        var externalID: String?
        var deliveredAt: Date?
    }

    func messageState(_ id: UUID) async throws -> MessageState {
        let row = try await db.pool.query("SELECT delivery_state, failure_reason, external_id, delivered_at FROM messages WHERE id = \(id)")[0]
        return MessageState(
            deliveryState: try row.decode("delivery_state"), failureReason: try row.decode("failure_reason", as: String?.self),
            externalID: try row.decode("external_id", as: String?.self), deliveredAt: try row.decode("delivered_at", as: Date?.self))
    }

    func count(_ query: SQLQuery) async throws -> Int { try await db.scalar(query, as: Int.self) }

    /// Waits until no outbound message is `queued` any more.
    func waitUntilSettled(timeout: Duration = .seconds(60)) async throws -> Bool {
        try await eventually(timeout: timeout, every: .milliseconds(100)) {
            try await count("SELECT count(*) FROM messages WHERE delivery_state = 'queued'") == 0
        }
    }

    func jobs(on queue: String) async throws -> [(payload: [String: Any], dedupeKey: String?, tenantID: UUID?)] {
        let rows = try await db.pool.query("SELECT payload::text AS payload, dedupe_key, tenant_id FROM queue_jobs WHERE queue = \(queue) ORDER BY id")
        return try rows.map { row in
            let text: String = try row.decode("payload")
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
            return (object, try row.decode("dedupe_key", as: String?.self), try row.decode("tenant_id", as: UUID?.self))
        }
    }

    // MARK: Sandbox over HTTP

    func sandboxMailbox(_ mailbox: UUID) async throws -> SandboxStore.Mailbox? {
        let response = try await inspector.send(.get, baseURL + "/sandbox/mailboxes/" + mailbox.uuidString.lowercased())
        if response.status == 404 { return nil }
        return try JSONDecoder().decode(SandboxStore.Mailbox.self, from: Data(response.body))
    }

    func sandboxStatistics() async throws -> SandboxStore.Statistics {
        let response = try await inspector.send(.get, baseURL + "/sandbox/stats")
        return try JSONDecoder().decode(SandboxStore.Statistics.self, from: Data(response.body))
    }

    /// The applicant answers in their postbox.
    @discardableResult
    func reply(mailbox: UUID, to message: UUID?, text: String, attachments: [PostboxAttachment]? = nil) async throws -> PostboxReply {
        struct Body: Encodable { var inReplyTo: String?; var text: String; var attachments: [PostboxAttachment]? }
        let body = try JSONEncoder().encode(Body(inReplyTo: message?.uuidString.lowercased(), text: text, attachments: attachments))
        let response = try await inspector.send(.post, baseURL + "/sandbox/mailboxes/\(mailbox.uuidString.lowercased())/replies",
                                                headers: [("Content-Type", "application/json")], body: Array(body))
        guard response.status == 201 else { throw TestServerError("reply: HTTP \(response.status) \(response.bodyText)") }
        return try JSONDecoder().decode(PostboxReply.self, from: Data(response.body))
    }

    func sandboxPost(_ path: String) async throws -> Int {
        try await inspector.send(.post, baseURL + path, headers: [("Content-Type", "application/json")], body: []).status
    }
}

struct RunningBridge: Sendable {
    let bridge: ServicekontoBridge
    let shutdown: ShutdownSignal
    let task: Task<Void, Never>
    let listener: PostgresListener

    func stop() async {
        shutdown.trigger()
        await task.value
        listener.stop()
        bridge.shutdown()
    }
}

struct DiscardingSink: LogSink {
    func write(line: String) {}
}
