import Foundation
import Domain
import JobQueue
import QueueContracts
import Logging
import Metrics
import Postgres
import Routing
import Synchronization
import TestSupport

/// Builds routing scenarios with plain SQL (tenants, services, areas, rules, caseworkers,
/// applications) and enqueues `route` jobs the way intake does.
struct RoutingFixture: Sendable {
    let db: TestDatabase
    let tenant: UUID
    let prefix: String
    private let counter = SharedCounter()

    /// A fresh tenant on `db`; `prefix` is its reference prefix (unique per database).
    static func make(_ db: TestDatabase, prefix: String = "TST") async throws -> RoutingFixture {
        let slug = prefix.lowercased()
        let rows = try await db.pool.query("""
            INSERT INTO tenants (slug, name, reference_prefix) VALUES (\(slug), \("Tenant " + prefix), \(prefix)) RETURNING id
            """)
        return RoutingFixture(db: db, tenant: try rows[0].decode("id"), prefix: prefix)
    }

    func service(_ key: String, active: Bool = true) async throws -> UUID {
        try await db.pool.query("""
            INSERT INTO services (tenant_id, key, name, active) VALUES (\(tenant), \(key), \("Dienst " + key), \(active)) RETURNING id
            """)[0].decode("id")
    }

    /// An area of `service` (nil: tenant-wide).
    func area(_ name: String, service: UUID?, active: Bool = true) async throws -> UUID {
        try await db.pool.query("""
            INSERT INTO responsibility_areas (tenant_id, service_id, name, active) VALUES (\(tenant), \(service), \(name), \(active)) RETURNING id
            """)[0].decode("id")
    }

    /// Stores a rule after validating it like the admin API will.
    @discardableResult
    func rule(service: UUID, area: UUID, position: Int, _ kind: String, _ definition: String) async throws -> UUID {
        let rule = try RoutingRule(kind: kind, definition: try JSONValue.parse(definition))
        return try await db.pool.query("""
            INSERT INTO area_rules (tenant_id, service_id, area_id, position, kind, definition)
            VALUES (\(tenant), \(service), \(area), \(position), \(kind), \(PostgresRawJSON(rule.definition.jsonText))::jsonb) RETURNING id
            """)[0].decode("id")
    }

    func fallback(_ area: UUID?) async throws {
        try await db.pool.query("UPDATE tenants SET fallback_area_id = \(area) WHERE id = \(tenant)")
    }

    func caseworker(_ name: String, email: Bool = true, active: Bool = true) async throws -> UUID {
        try await db.pool.query("""
            INSERT INTO caseworkers (tenant_id, name, email, email_notifications, active)
            VALUES (\(tenant), \(name), \(name.lowercased() + "@" + prefix.lowercased() + ".example"), \(email), \(active)) RETURNING id
            """)[0].decode("id")
    }

    func member(_ caseworker: UUID, of area: UUID) async throws {
        try await db.pool.query("INSERT INTO area_members (tenant_id, area_id, caseworker_id) VALUES (\(tenant), \(area), \(caseworker))")
    }

    /// A `received` application, as intake stores it.
    func application(service: UUID, municipalityKey: String? = nil, postalCode: String? = nil, form: String = "{}",
                     postbox: UUID? = nil, trustLevel: TrustLevel = .substantial) async throws -> UUID {
        let number = counter.add()
        var address: [String: String] = [:]
        if let municipalityKey { address["municipality_key"] = municipalityKey }
        if let postalCode { address["postal_code"] = postalCode }
        let applicant = Applicant(name: "Erika Mustermann", address: address)
        return try await db.pool.query("""
            INSERT INTO applications (tenant_id, service_id, reference, applicant, form, postbox_mailbox_id, postbox_trust_level, submitted_at)
            VALUES (\(tenant), \(service), \(prefix + "-2026-" + String(format: "%06d", number)), \(PostgresJSON(applicant))::jsonb,
                    \(PostgresRawJSON(form))::jsonb, \(postbox), \(postbox == nil ? nil : trustLevel.rawValue), now())
            RETURNING id
            """)[0].decode("id")
    }

    /// `count` applications at once; the n-th (from 0) gets `postalCode(n)`. Returns their ids in order.
    func applications(service: UUID, count: Int, postbox: Bool = false, postalCode: @Sendable (Int) -> String) async throws -> [UUID] {
        var ids: [UUID] = []
        var start = 0
        while start < count {
            let end = min(start + 1000, count)
            let codes = (start..<end).map(postalCode)
            let first = counter.add(end - start) - (end - start) + 1
            let rows = try await db.pool.query("""
                INSERT INTO applications (tenant_id, service_id, reference, applicant, form, postbox_mailbox_id, postbox_trust_level, submitted_at)
                SELECT \(tenant), \(service), \(prefix) || '-2026-' || lpad((\(first)::int + c.n - 1)::text, 6, '0'),
                       jsonb_build_object('name', 'Max Mustermann', 'address', jsonb_build_object('postal_code', c.code)), '{}'::jsonb,
                       CASE WHEN \(postbox)::boolean THEN gen_random_uuid() END, CASE WHEN \(postbox)::boolean THEN 'basic' END, now()
                FROM unnest(\(codes)::text[]) WITH ORDINALITY AS c(code, n)
                ORDER BY c.n
                RETURNING id
                """)
            ids += try rows.map { try $0.decode("id", as: UUID.self) }
            start = end
        }
        return ids
    }

    /// Enqueues one `route` job per application (batches of 1,000), like intake.
    func enqueueRoute(_ applications: [UUID], queue: JobQueue? = nil) async throws {
        let queue = queue ?? JobQueue(pool: db.pool, notifier: nil)
        var start = 0
        while start < applications.count {
            let end = min(start + 1000, applications.count)
            let jobs = try applications[start..<end].map { id in
                try NewJob(RouteJob(applicationID: id), tenantID: tenant)
            }
            try await db.pool.withTransaction { try await queue.enqueue(jobs, in: $0) }
            start = end
        }
    }

    // MARK: Reading results

    struct Routed: Sendable {
        var status: String
        var areaID: UUID?
        var version: Int
    }

    func state(of application: UUID) async throws -> Routed {
        let row = try await db.pool.query("SELECT status, area_id, version FROM applications WHERE id = \(application)")[0]
        return Routed(status: try row.decode("status"), areaID: try row.decode("area_id", as: UUID?.self), version: try row.decode("version"))
    }

    /// caseworker ids of the `notify-email` jobs for `application`.
    func emailJobs(for application: UUID) async throws -> [UUID] {
        try await db.pool.query("""
            SELECT (payload ->> 'caseworker_id')::uuid AS caseworker FROM queue_jobs
            WHERE queue = 'notify-email' AND payload ->> 'application_id' = \(application.uuidString.lowercased())
            ORDER BY 1
            """).map { try $0.decode("caseworker", as: UUID.self) }
    }

    func timeline(of application: UUID) async throws -> [(kind: String, data: [String: String])] {
        try await db.pool.query("""
            SELECT kind, data FROM timeline_events WHERE application_id = \(application) ORDER BY id
            """).map { (try $0.decode("kind", as: String.self), try $0.decodeJSON("data", as: [String: String].self)) }
    }

    /// Routes one application in a transaction of its own, as the handler does.
    func route(_ application: UUID, with routing: Routing) async throws -> RoutingOutcome {
        try await db.pool.withTransaction { try await routing.route(application: application, tenant: tenant, in: $0) }
    }
}

struct Applicant: Codable, Sendable {
    var name: String
    var address: [String: String]
}

extension TestDatabase {
    func makeRouting(logger: Logger? = nil, metrics: MetricsRegistry = MetricsRegistry()) -> Routing {
        let notifierPool = PostgresPool(configuration: configuration, pool: .init(maxConnections: 1), logger: self.logger)
        let queue = JobQueue(pool: pool, notifier: QueueNotifier(pool: notifierPool, logger: self.logger))
        return Routing(queue: queue, metrics: metrics, logger: logger ?? self.logger)
    }
}
