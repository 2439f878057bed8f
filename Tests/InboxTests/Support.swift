import Administration
import Domain
import Foundation
import HTTPServer
import HTTPTestSupport
@testable import InboxService
import JobQueue
import Logging
import Postgres
import TestSupport

/// An inbox service on a fresh database, served over a real socket on an ephemeral port, with
/// two tenants:
/// - A (Erkelenz): service `parking` with areas `north` (members cw1, cw2) and `south` (cw3),
///   a tenant-wide area `central` (no members), an admin;
/// - B (Heinsberg): service `parking`, area `main` with cwB, an admin.
struct InboxHarness: Sendable {
    let db: TestDatabase
    let port: Int
    let listener: PostgresListener
    let queue: JobQueue

    let tenantA: UUID
    let tenantB: UUID
    let serviceA: UUID
    let serviceB: UUID
    let north: UUID
    let south: UUID
    let central: UUID
    let areaB: UUID
    let cw1: Member
    let cw2: Member
    let cw3: Member
    let adminA: Member
    let cwB: Member
    let adminB: Member

    struct Member: Sendable {
        var id: UUID
        var token: String
        var name: String
    }

    /// Runs `body` with a harness; stops the server and the listener afterwards.
    static func with<T: Sendable>(maxConnections: Int = 40, _ body: (InboxHarness) async throws -> T) async throws -> T {
        let db = try await TestDatabase.make(maxConnections: maxConnections)
        let admin = AdminStore(pool: db.pool)
        let a = try await admin.createTenant(slug: "erkelenz", name: "Stadt Erkelenz", referencePrefix: "ERK")
        let b = try await admin.createTenant(slug: "heinsberg", name: "Kreis Heinsberg", referencePrefix: "HS")
        let serviceA = try await admin.createService(tenant: a.id, key: "parking", name: "Anwohnerparkausweis")
        let serviceB = try await admin.createService(tenant: b.id, key: "parking", name: "Anwohnerparkausweis")
        func member(_ tenant: UUID, _ name: String, _ roles: [CaseworkerRole] = [.caseworker]) async throws -> Member {
            let slug = name.lowercased().replacingOccurrences(of: " ", with: ".")
            let cw = try await admin.createCaseworker(tenant: tenant, name: name, email: "\(slug)@example.de", roles: roles)
            let token = try await admin.createCaseworkerToken(tenant: tenant, caseworker: cw.id)
            return Member(id: cw.id, token: token.secret, name: name)
        }
        let cw1 = try await member(a.id, "Anna Nord")
        let cw2 = try await member(a.id, "Bernd Nord")
        let cw3 = try await member(a.id, "Clara Sued")
        let adminA = try await member(a.id, "Dora Admin", [.caseworker, .admin])
        let cwB = try await member(b.id, "Emil Heinsberg")
        let adminB = try await member(b.id, "Frida Admin", [.admin])
        let north = try await admin.createArea(tenant: a.id, service: serviceA.id, name: "Nord", rules: [RuleDraft(kind: "postal_codes", definition: ["values": ["41812"]])], members: [cw1.id, cw2.id])
        let south = try await admin.createArea(tenant: a.id, service: serviceA.id, name: "Süd", rules: [], members: [cw3.id])
        let central = try await admin.createArea(tenant: a.id, service: nil, name: "Zentrale", rules: [])
        let areaB = try await admin.createArea(tenant: b.id, service: serviceB.id, name: "Main", rules: [], members: [cwB.id])

        let listener = PostgresListener(configuration: db.configuration, logger: db.logger)
        let queue = JobQueue(pool: db.pool, notifier: QueueNotifier(pool: db.pool, logger: db.logger))
        let api = InboxAPI(pool: db.pool, queue: queue, listener: listener)
        let logger = Logger(service: "inbox-test", minimumLevel: .error)
        var router = Router(logger: logger)
        api.register(on: &router)
        let configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, shutdownGracePeriod: .seconds(2))
        defer { listener.stop() }
        return try await HTTPServer.withRunningServer(configuration: configuration, logger: logger, responder: router) { server in
            let harness = InboxHarness(
                db: db, port: server.port!, listener: listener, queue: queue, tenantA: a.id, tenantB: b.id,
                serviceA: serviceA.id, serviceB: serviceB.id, north: north.id, south: south.id, central: central.id, areaB: areaB.id,
                cw1: cw1, cw2: cw2, cw3: cw3, adminA: adminA, cwB: cwB, adminB: adminB
            )
            return try await body(harness)
        }
    }

    // MARK: HTTP over a socket

    typealias Response = APIResponse

    func request(_ method: String, _ path: String, token: String?, headers: [String: String] = [:], json: Any? = nil,
                 timeout: Double = 10) async throws -> Response {
        try await APIClient(port: port, token: token).call(method, path, json: json, headers: headers, timeout: timeout)
    }

    func get(_ path: String, as member: Member, headers: [String: String] = [:], timeout: Double = 10) async throws -> Response {
        try await request("GET", path, token: member.token, headers: headers, timeout: timeout)
    }

    func post(_ path: String, as member: Member, json: Any = [String: Any](), ifMatch: Int? = nil) async throws -> Response {
        var headers: [String: String] = [:]
        if let ifMatch { headers["If-Match"] = "\"\(ifMatch)\"" }
        return try await request("POST", path, token: member.token, headers: headers, json: json)
    }

    // MARK: Data

    struct Postbox {
        var trust: String = "substantial"
        var consent: Bool = true
    }

    /// An application of `tenant`, directly in the database, with one attachment; `assigned` to
    /// `area` unless another status is given (in_progress/awaiting need `claimedBy`).
    @discardableResult
    func makeApplication(tenant: UUID? = nil, service: UUID? = nil, area: UUID?, status: String = "assigned", claimedBy: UUID? = nil,
                         postbox: Postbox? = Postbox(), name: String = "Erika Mustermann", receivedAt: Date? = nil) async throws -> UUID {
        let tenant = tenant ?? tenantA
        let service = service ?? (tenant == tenantA ? serviceA : serviceB)
        let prefix = tenant == tenantA ? "ERK" : "HS"
        let number = try await db.scalar("SELECT count(*)::integer + 1 FROM applications", as: Int.self)
        let reference = Reference.format(prefix: prefix, year: 2026, number: Int64(number))
        let applicant = "{\"name\":\"\(name)\",\"email\":\"erika@example.de\",\"address\":{\"postal_code\":\"41812\",\"municipality_key\":\"05370016\"}}"
        let rows = try await db.pool.query("""
            INSERT INTO applications (tenant_id, service_id, reference, status, area_id, claimed_by, applicant, form, payment,
                                      postbox_mailbox_id, postbox_trust_level, document_consent, submitted_at, received_at, closed_at, outcome)
            VALUES (\(tenant), \(service), \(reference), \(status), \(area), \(claimedBy), \(PostgresRawJSON(applicant))::jsonb,
                    '{"plate":"HS-AB 123"}'::jsonb, NULL, \(postbox == nil ? nil : UUID()), \(postbox?.trust), \(postbox?.consent ?? false),
                    now(), coalesce(\(receivedAt)::timestamptz, clock_timestamp()),
                    CASE WHEN \(status) IN ('completed', 'withdrawn') THEN now() END,
                    CASE WHEN \(status) = 'completed' THEN 'done' END)
            RETURNING id
            """)
        let id = try rows[0].decode("id", as: UUID.self)
        let content = Array("%PDF-1.7 Fahrzeugschein".utf8)
        try await db.pool.query("""
            INSERT INTO attachments (tenant_id, application_id, filename, content_type, size_bytes, sha256, content)
            VALUES (\(tenant), \(id), 'Fahrzeugschein Müller.pdf', 'application/pdf', \(content.count), \(Bytea(SHA256.hash(content))), \(Bytea(content)))
            """)
        return id
    }

    /// A new caseworker of tenant A in `area`, with a token.
    func addMember(name: String, area: UUID, roles: [CaseworkerRole] = [.caseworker]) async throws -> Member {
        let admin = AdminStore(pool: db.pool)
        let slug = name.lowercased().replacingOccurrences(of: " ", with: ".")
        let cw = try await admin.createCaseworker(tenant: tenantA, name: name, email: "\(slug)@example.de", roles: roles)
        try await db.pool.query("INSERT INTO area_members (tenant_id, area_id, caseworker_id) VALUES (\(tenantA), \(area), \(cw.id))")
        let token = try await admin.createCaseworkerToken(tenant: tenantA, caseworker: cw.id)
        return Member(id: cw.id, token: token.secret, name: name)
    }

    func attachmentID(of application: UUID) async throws -> UUID {
        try await db.scalar("SELECT id FROM attachments WHERE application_id = \(application) ORDER BY created_at LIMIT 1", as: UUID.self)
    }

    func version(of application: UUID) async throws -> Int {
        try await db.scalar("SELECT version FROM applications WHERE id = \(application)", as: Int.self)
    }

    func status(of application: UUID) async throws -> String {
        try await db.scalar("SELECT status FROM applications WHERE id = \(application)", as: String.self)
    }

    func count(_ query: SQLQuery) async throws -> Int {
        try await db.scalar(query, as: Int.self)
    }
}
