import Administration
import Domain
import RoutingRules
import Foundation
import Postgres
import Schema
import Testing
import TestSupport

/// The schema refuses what the domain forbids, whatever the code above it does.
@Suite struct SchemaConstraintTests {
    struct Fixture {
        var db: TestDatabase
        var tenantA: UUID, tenantB: UUID
        var serviceA: UUID, serviceB: UUID
        var areaA: UUID, areaB: UUID
        var caseworkerA: UUID, caseworkerB: UUID
        var applicationA: UUID
    }

    static func fixture() async throws -> Fixture {
        let db = try await TestDatabase.make()
        let admin = AdminStore(pool: db.pool)
        let a = try await admin.createTenant(slug: "erkelenz", name: "Stadt Erkelenz", referencePrefix: "ERK")
        let b = try await admin.createTenant(slug: "heinsberg", name: "Kreis Heinsberg", referencePrefix: "HS")
        let sa = try await admin.createService(tenant: a.id, key: "parking", name: "Anwohnerparkausweis")
        let sb = try await admin.createService(tenant: b.id, key: "parking", name: "Anwohnerparkausweis")
        let ca = try await admin.createCaseworker(tenant: a.id, name: "A", email: "a@erkelenz.de", roles: [.caseworker])
        let cb = try await admin.createCaseworker(tenant: b.id, name: "B", email: "b@heinsberg.de", roles: [.admin])
        let areaA = try await admin.createArea(tenant: a.id, service: sa.id, name: "Nord", rules: [RuleDraft(kind: "postal_codes", definition: ["values": ["41812"]])], members: [ca.id])
        let areaB = try await admin.createArea(tenant: b.id, service: sb.id, name: "Süd", rules: [RuleDraft(kind: "default", definition: [:])])
        let app = try await db.pool.query("""
            INSERT INTO applications (tenant_id, service_id, reference, applicant, form, submitted_at)
            VALUES (\(a.id), \(sa.id), 'ERK-2026-000001', '{"name":"Erika"}', '{}', now()) RETURNING id
            """)[0].decode("id", as: UUID.self)
        return Fixture(db: db, tenantA: a.id, tenantB: b.id, serviceA: sa.id, serviceB: sb.id, areaA: areaA.id, areaB: areaB.id,
                       caseworkerA: ca.id, caseworkerB: cb.id, applicationA: app)
    }

    /// Expects `query` to fail on one of `constraints` (the server reports the first CHECK it
    /// finds violated, so where two apply either is right).
    func expectViolation(_ db: TestDatabase, _ constraints: String..., query: SQLQuery, sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            try await db.pool.query(query)
            Issue.record("statement succeeded; expected \(constraints)", sourceLocation: sourceLocation)
        } catch let error as PostgresError {
            #expect(constraints.contains(error.constraint ?? "-"), "got \(error.debugDescription)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func crossTenantReferencesAreImpossible() async throws {
        let f = try await Self.fixture()
        // An application of tenant A cannot use B's service, area or caseworker.
        await expectViolation(f.db, "applications_service_fk", query: """
            INSERT INTO applications (tenant_id, service_id, reference, applicant, form, submitted_at)
            VALUES (\(f.tenantA), \(f.serviceB), 'ERK-2026-000002', '{"name":"X"}', '{}', now())
            """)
        await expectViolation(f.db, "applications_area_fk", query:
            "UPDATE applications SET status = 'assigned', area_id = \(f.areaB) WHERE id = \(f.applicationA)")
        await expectViolation(f.db, "applications_claimed_by_fk", query:
            "UPDATE applications SET status = 'in_progress', area_id = \(f.areaA), claimed_by = \(f.caseworkerB) WHERE id = \(f.applicationA)")
        await expectViolation(f.db, "area_members_caseworker_fk", query:
            "INSERT INTO area_members (tenant_id, area_id, caseworker_id) VALUES (\(f.tenantA), \(f.areaA), \(f.caseworkerB))")
        await expectViolation(f.db, "tenants_fallback_area_fk", query: "UPDATE tenants SET fallback_area_id = \(f.areaB) WHERE id = \(f.tenantA)")
        await expectViolation(f.db, "area_rules_area_fk", query: """
            INSERT INTO area_rules (tenant_id, service_id, area_id, position, kind) VALUES (\(f.tenantA), \(f.serviceA), \(f.areaB), 10, 'default')
            """)
        await expectViolation(f.db, "attachments_application_fk", query: """
            INSERT INTO attachments (tenant_id, application_id, filename, content_type, size_bytes, sha256, content)
            VALUES (\(f.tenantB), \(f.applicationA), 'a.pdf', 'application/pdf', 1, sha256('x'), 'x')
            """)
        await expectViolation(f.db, "messages_application_fk", query: """
            INSERT INTO messages (tenant_id, application_id, direction, kind, body, trust_level, mailbox_id, delivery_state, subject, postbox_status)
            VALUES (\(f.tenantB), \(f.applicationA), 'outbound', 'information', 'x', 'basic', gen_random_uuid(), 'queued', 's', NULL)
            """)
        // A tenant that does not exist is refused through the application key (migration 6 dropped
        // the direct, redundant tenant keys of these tables).
        await expectViolation(f.db, "timeline_events_application_fk", query: """
            INSERT INTO timeline_events (tenant_id, application_id, kind, visibility, actor_kind)
            VALUES (gen_random_uuid(), \(f.applicationA), 'assigned', 'internal', 'system')
            """)
        await expectViolation(f.db, "messages_application_fk", query: """
            INSERT INTO messages (tenant_id, application_id, direction, kind, body, trust_level, mailbox_id, delivery_state, subject, postbox_status)
            VALUES (gen_random_uuid(), \(f.applicationA), 'outbound', 'information', 'x', 'basic', gen_random_uuid(), 'queued', 's', NULL)
            """)
        // The same-tenant versions work.
        try await f.db.pool.query("UPDATE applications SET status = 'assigned', area_id = \(f.areaA) WHERE id = \(f.applicationA)")
        try await f.db.pool.query("UPDATE applications SET status = 'in_progress', claimed_by = \(f.caseworkerA) WHERE id = \(f.applicationA)")
    }

    @Test func lifecycleInvariantsAreChecked() async throws {
        let f = try await Self.fixture()
        let id = f.applicationA
        await expectViolation(f.db, "applications_status_check", query: "UPDATE applications SET status = 'lost', area_id = \(f.areaA) WHERE id = \(id)")
        await expectViolation(f.db, "applications_area_matches_status", query: "UPDATE applications SET status = 'assigned' WHERE id = \(id)")
        await expectViolation(f.db, "applications_claim_matches_status", query:
            "UPDATE applications SET status = 'in_progress', area_id = \(f.areaA) WHERE id = \(id)")
        await expectViolation(f.db, "applications_outcome_when_completed", query:
            "UPDATE applications SET status = 'completed', area_id = \(f.areaA), closed_at = now() WHERE id = \(id)")
        await expectViolation(f.db, "applications_closed_at_matches_status", query: "UPDATE applications SET status = 'withdrawn' WHERE id = \(id)")
        await expectViolation(f.db, "applications_personal_data_deleted_when_closed", query:
            "UPDATE applications SET applicant = NULL, form = NULL, personal_data_deleted_at = now() WHERE id = \(id)")
        await expectViolation(f.db, "applications_postbox_trust_level", query: "UPDATE applications SET postbox_mailbox_id = gen_random_uuid() WHERE id = \(id)")
        await expectViolation(f.db, "applications_document_consent_needs_postbox", query: "UPDATE applications SET document_consent = true WHERE id = \(id)")
        await expectViolation(f.db, "applications_reference_unique", query: """
            INSERT INTO applications (tenant_id, service_id, reference, applicant, form, submitted_at)
            VALUES (\(f.tenantA), \(f.serviceA), 'ERK-2026-000001', '{"name":"X"}', '{}', now())
            """)
        // Withdrawn, then personal data deleted: allowed.
        try await f.db.pool.query("UPDATE applications SET status = 'withdrawn', closed_at = now() WHERE id = \(id)")
        try await f.db.pool.query("UPDATE applications SET applicant = NULL, form = NULL, personal_data_deleted_at = now() WHERE id = \(id)")
    }

    @Test func messagesAndRulesAreChecked() async throws {
        let f = try await Self.fixture()
        let id = f.applicationA
        await expectViolation(f.db, "messages_kind_matches_direction", query: """
            INSERT INTO messages (tenant_id, application_id, direction, kind, body, trust_level, mailbox_id, delivery_state)
            VALUES (\(f.tenantA), \(id), 'inbound', 'question', 'x', 'basic', gen_random_uuid(), NULL)
            """)
        await expectViolation(f.db, "messages_failure_reason_when_failed", query: """
            INSERT INTO messages (tenant_id, application_id, direction, kind, body, trust_level, mailbox_id, delivery_state)
            VALUES (\(f.tenantA), \(id), 'outbound', 'question', 'x', 'basic', gen_random_uuid(), 'failed')
            """)
        await expectViolation(f.db, "messages_trust_level_check", query: """
            INSERT INTO messages (tenant_id, application_id, direction, kind, body, trust_level, mailbox_id, delivery_state)
            VALUES (\(f.tenantA), \(id), 'outbound', 'question', 'x', 'medium', gen_random_uuid(), 'queued')
            """)
        try await f.db.pool.query("""
            INSERT INTO messages (tenant_id, application_id, direction, kind, body, trust_level, mailbox_id, delivery_state, failure_reason)
            VALUES (\(f.tenantA), \(id), 'outbound', 'question', 'x', 'high', gen_random_uuid(), 'failed', 'mailbox unknown')
            """)
        await expectViolation(f.db, "area_rules_kind_check", "area_rules_definition_check", query: """
            INSERT INTO area_rules (tenant_id, service_id, area_id, position, kind) VALUES (\(f.tenantA), \(f.serviceA), \(f.areaA), 5, 'nearest')
            """)
        await expectViolation(f.db, "area_rules_definition_check", query: """
            INSERT INTO area_rules (tenant_id, service_id, area_id, position, kind, definition)
            VALUES (\(f.tenantA), \(f.serviceA), \(f.areaA), 5, 'municipality_keys', '{"values": ["0537"]}')
            """)
        await expectViolation(f.db, "area_rules_position_unique", query: """
            INSERT INTO area_rules (tenant_id, service_id, area_id, position, kind) VALUES (\(f.tenantA), \(f.serviceA), \(f.areaA), 0, 'default')
            """)
        await expectViolation(f.db, "caseworkers_roles_check", query: "UPDATE caseworkers SET roles = '{boss}' WHERE id = \(f.caseworkerA)")
        await expectViolation(f.db, "services_leika_key_format", query: "UPDATE services SET leika_key = '123' WHERE id = \(f.serviceA)")
        await expectViolation(f.db, "services_document_trust_level_check", query: "UPDATE services SET document_trust_level = 'none' WHERE id = \(f.serviceA)")
        #expect(try await f.db.scalar("SELECT document_trust_level FROM services WHERE id = \(f.serviceA)", as: String.self) == "substantial")
        #expect(try await f.db.scalar("SELECT decisions_via_back_channel FROM tenants WHERE id = \(f.tenantA)", as: Bool.self) == false)
    }

    @Test func auditLogIsAppendOnly() async throws {
        let f = try await Self.fixture()
        let before = try await f.db.scalar("SELECT count(*)::int FROM audit_log", as: Int.self)
        #expect(before >= 6)  // the fixture's admin changes
        await expectViolation(f.db, "audit_log_append_only", query: "UPDATE audit_log SET action = 'x.y'")
        await expectViolation(f.db, "audit_log_append_only", query: "DELETE FROM audit_log")
        await expectViolation(f.db, "audit_log_append_only", query: "TRUNCATE audit_log")
        #expect(try await f.db.scalar("SELECT count(*)::int FROM audit_log", as: Int.self) == before)
    }

    @Test func secretsAreStoredOnlyAsHashes() async throws {
        let f = try await Self.fixture()
        let admin = AdminStore(pool: f.db.pool)
        let key = try await admin.createIntakeClient(tenant: f.tenantA, name: "portal", serviceKeys: ["parking"])
        let token = try await admin.createCaseworkerToken(tenant: f.tenantA, caseworker: f.caseworkerA)
        #expect(try await f.db.scalar("SELECT count(*)::int FROM intake_clients WHERE key_hash = \(Bytea(SHA256.hash(key.secret)))", as: Int.self) == 1)
        #expect(try await f.db.scalar("SELECT count(*)::int FROM caseworker_tokens WHERE token_hash = \(Bytea(SHA256.hash(token.secret)))", as: Int.self) == 1)
        // The clear secret is nowhere in the database.
        let dump = try await f.db.scalar("""
            SELECT (SELECT string_agg(t::text, '|') FROM intake_clients t) || (SELECT string_agg(t::text, '|') FROM caseworker_tokens t)
                   || (SELECT string_agg(t::text, '|') FROM audit_log t)
            """, as: String.self)
        #expect(!dump.contains(key.secret) && !dump.contains(token.secret))
    }

    @Test func referenceNumbersAreUniqueUnderConcurrency() async throws {
        let f = try await Self.fixture()
        for blockSize in [1, 7] {
            let allocator = ReferenceAllocator(pool: f.db.pool, blockSize: blockSize)
            let year = 2030 + blockSize
            let numbers = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for _ in 0..<8 {
                    group.addTask { var mine: [Int64] = []; for _ in 0..<40 { mine.append(try await allocator.next(tenant: f.tenantA, year: year)) }; return mine }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(numbers.count == 320)
            #expect(Set(numbers).count == 320, "block size \(blockSize): duplicates")
            #expect(numbers.min() == 1)
        }
        // Counters are per tenant and year.
        let other = ReferenceAllocator(pool: f.db.pool)
        #expect(try await other.next(tenant: f.tenantB, year: 2031) == 1)
    }

    @Test func migrationsAreCurrentAndIdempotent() async throws {
        let db = try await TestDatabase.make()
        let migrator = Migrator(logger: db.logger)
        #expect(try await migrator.migrate(db.pool).isEmpty)
        #expect(try await migrator.status(db.pool).isCurrent)
        #expect(try await db.scalar("SELECT max(version) FROM schema_migrations", as: Int.self) == Migrations.latestVersion)
    }

    @Test func theQueueTableIsVacuumedAfterAFixedNumberOfDeadRows() async throws {
        let db = try await TestDatabase.make()
        let options = try await db.scalar("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'queue_jobs'", as: String.self)
        #expect(options.contains("autovacuum_vacuum_scale_factor=0"), "\(options)")
        #expect(options.contains("autovacuum_vacuum_threshold=1000"), "\(options)")
    }
}
