import Foundation
import ApplicationLifecycle
import Domain
import JobQueue
import Logging
import Metrics
import Postgres
import Routing
import Testing
import TestSupport

/// The routing path against a real database: the rules matrix, fallback, unroutable, the
/// deactivated service, idempotency, and areas without members.
@Suite struct RoutingTests {
    /// Service `parking` with one area per rule kind, in this order:
    ///   0 municipality_keys 05370020 → keys;  1 postal range 52500-52529 → range;
    ///   2 postal prefix 5253 → prefix;  3 postal exact 41812 → exact;
    ///   4 form_field vehicle.kind in ["truck", 3] → field;  5 postal 10115 → inactive area (skipped);
    ///   6 default → general.
    struct Matrix {
        let fixture: RoutingFixture
        let service: UUID
        let areas: [String: UUID]
        let rules: [String: UUID]
        /// caseworkers wanting e-mail, per area
        let emailed: [String: [UUID]]
    }

    func makeMatrix(_ db: TestDatabase, prefix: String = "MTX") async throws -> Matrix {
        let f = try await RoutingFixture.make(db, prefix: prefix)
        let service = try await f.service("parking")
        var areas: [String: UUID] = [:]
        for name in ["keys", "range", "prefix", "exact", "field", "general"] { areas[name] = try await f.area(name, service: service) }
        areas["inactive"] = try await f.area("inactive", service: service, active: false)
        var rules: [String: UUID] = [:]
        rules["keys"] = try await f.rule(service: service, area: areas["keys"]!, position: 0, "municipality_keys", #"{"values": ["05370020"]}"#)
        rules["range"] = try await f.rule(service: service, area: areas["range"]!, position: 1, "postal_codes", #"{"values": ["52500-52529"]}"#)
        rules["prefix"] = try await f.rule(service: service, area: areas["prefix"]!, position: 2, "postal_codes", #"{"values": ["5253"]}"#)
        rules["exact"] = try await f.rule(service: service, area: areas["exact"]!, position: 3, "postal_codes", #"{"values": ["41812"]}"#)
        rules["field"] = try await f.rule(service: service, area: areas["field"]!, position: 4, "form_field", #"{"field": "vehicle.kind", "values": ["truck", 3]}"#)
        rules["inactive"] = try await f.rule(service: service, area: areas["inactive"]!, position: 5, "postal_codes", #"{"values": ["10115"]}"#)
        rules["general"] = try await f.rule(service: service, area: areas["general"]!, position: 6, "default", "{}")
        var emailed: [String: [UUID]] = [:]
        for (name, area) in areas {
            let wants = try await f.caseworker("\(name)-a")
            let wantsToo = try await f.caseworker("\(name)-b")
            let noMail = try await f.caseworker("\(name)-c", email: false)
            let gone = try await f.caseworker("\(name)-d", active: false)
            for member in [wants, wantsToo, noMail, gone] { try await f.member(member, of: area) }
            emailed[name] = [wants, wantsToo].sorted { $0.uuidString < $1.uuidString }
        }
        return Matrix(fixture: f, service: service, areas: areas, rules: rules, emailed: emailed)
    }

    @Test func rulesMatrixEachKindOrderRangesAndDefault() async throws {
        let db = try await TestDatabase.make()
        let m = try await makeMatrix(db)
        let f = m.fixture
        let routing = db.makeRouting()
        let cases: [(name: String, key: String?, code: String?, form: String, area: String)] = [
            ("municipality key", "05370020", "99999", "{}", "keys"),
            ("order: key before range", "05370020", "52525", "{}", "keys"),
            ("range lower bound", nil, "52500", "{}", "range"),
            ("range upper bound", nil, "52529", "{}", "range"),
            ("range inside, other municipality key", "05370016", "52510", "{}", "range"),
            ("prefix", nil, "52530", "{}", "prefix"),
            ("prefix end", nil, "52539", "{}", "prefix"),
            ("between range and prefix", nil, "52540", "{}", "general"),
            ("exact", nil, "41812", "{}", "exact"),
            ("exact does not prefix", nil, "41813", "{}", "general"),
            ("form field string", nil, "10117", #"{"vehicle": {"kind": "truck"}}"#, "field"),
            ("form field number", nil, "10117", #"{"vehicle": {"kind": 3}}"#, "field"),
            ("order: postal before form field", nil, "41812", #"{"vehicle": {"kind": "truck"}}"#, "exact"),
            ("form field other value", nil, "10117", #"{"vehicle": {"kind": "car"}}"#, "general"),
            ("inactive area's rule is skipped", nil, "10115", "{}", "general"),
            ("no address at all: default", nil, nil, "{}", "general"),
            ("range just outside", nil, "52600", "{}", "general"),
        ]
        for c in cases {
            let app = try await f.application(service: m.service, municipalityKey: c.key, postalCode: c.code, form: c.form)
            let outcome = try await f.route(app, with: routing)
            let expected = m.areas[c.area]!
            #expect(outcome.decision == .matchedRule, "\(c.name)")
            #expect(outcome.areaID == expected, "\(c.name): routed to the wrong area")
            #expect(outcome.ruleID == m.rules[c.area], "\(c.name)")
            let state = try await f.state(of: app)
            #expect(state.status == "assigned" && state.areaID == expected && state.version == 2, "\(c.name)")
            let timeline = try await f.timeline(of: app)
            #expect(timeline.count == 1 && timeline[0].kind == "assigned", "\(c.name)")
            #expect(timeline.first?.data["rule_id"] == m.rules[c.area]!.uuidString.lowercased(), "\(c.name): timeline names the rule")
            #expect(timeline.first?.data["decision"] == "rule")
            #expect(try await f.emailJobs(for: app) == m.emailed[c.area]!, "\(c.name): one e-mail per active member who wants e-mail")
        }
        // Order decides between overlapping rules: a later, wider range never steals from an earlier one.
        let wide = try await f.area("wide", service: m.service)
        try await f.rule(service: m.service, area: wide, position: 7, "postal_codes", #"{"values": ["52000-52999"]}"#)
        try await db.pool.query("UPDATE area_rules SET position = 8 WHERE id = \(m.rules["general"]!)")
        let inRange = try await f.application(service: m.service, postalCode: "52520")
        #expect(try await f.route(inRange, with: routing).areaID == m.areas["range"])
        let onlyWide = try await f.application(service: m.service, postalCode: "52700")
        #expect(try await f.route(onlyWide, with: routing).areaID == wide)
        let both = try await f.application(service: m.service, municipalityKey: "05370020", postalCode: "52539", form: #"{"vehicle": {"kind": 3}}"#)
        #expect(try await f.route(both, with: routing).areaID == m.areas["keys"])
    }

    @Test func auditReceiptAndJobsOfOneRoutedApplication() async throws {
        let db = try await TestDatabase.make()
        let m = try await makeMatrix(db)
        let f = m.fixture
        let routing = db.makeRouting()
        let mailbox = UUID()
        let app = try await f.application(service: m.service, postalCode: "52525", postbox: mailbox, trustLevel: .high)
        let outcome = try await f.route(app, with: routing)
        let receipt = try #require(outcome.receiptMessageID)
        let message = try await db.pool.query("""
            SELECT direction, kind, postbox_status, delivery_state, trust_level, mailbox_id, subject FROM messages WHERE id = \(receipt)
            """)[0]
        #expect(try message.decode("direction", as: String.self) == "outbound")
        #expect(try message.decode("kind", as: String.self) == "status")
        #expect(try message.decode("postbox_status", as: String.self) == "RECEIVED")
        #expect(try message.decode("delivery_state", as: String.self) == "queued")
        #expect(try message.decode("trust_level", as: String.self) == "high")
        #expect(try message.decode("mailbox_id", as: UUID.self) == mailbox)
        let outbox = try await db.pool.query("SELECT payload ->> 'message_id' AS id, tenant_id FROM queue_jobs WHERE queue = 'citizen-outbox'")
        #expect(outbox.count == 1)
        #expect(try outbox[0].decode("id", as: String.self) == receipt.uuidString.lowercased())
        #expect(try outbox[0].decode("tenant_id", as: UUID.self) == f.tenant)

        let jobs = try await db.pool.query("""
            SELECT payload::text AS payload, tenant_id, dedupe_key FROM queue_jobs WHERE queue = 'notify-email' ORDER BY dedupe_key
            """)
        #expect(jobs.count == 2)
        for (row, caseworker) in zip(jobs, m.emailed["range"]!.sorted { $0.uuidString.lowercased() < $1.uuidString.lowercased() }) {
            let a = app.uuidString.lowercased(), c = caseworker.uuidString.lowercased()
            #expect(try row.decode("payload", as: String.self) == #"{"kind": "new_application", "caseworker_id": "\#(c)", "application_id": "\#(a)"}"#)
            #expect(try row.decode("dedupe_key", as: String.self) == "new_application/\(a)/\(c)")
            #expect(try row.decode("tenant_id", as: UUID.self) == f.tenant)
        }
        let audit = try await db.pool.query("SELECT actor_kind, action, object_id, details FROM audit_log WHERE application_id = \(app)")
        #expect(audit.count == 1)
        #expect(try audit[0].decode("action", as: String.self) == "application.route")
        #expect(try audit[0].decode("actor_kind", as: String.self) == "system")
        #expect(try audit[0].decodeJSON("details", as: [String: String].self)["area_id"] == m.areas["range"]!.uuidString.lowercased())

        // The receipt is written like every status message: the tenant's own template wins.
        try await db.pool.query("""
            INSERT INTO notification_templates (tenant_id, kind, subject, body)
            VALUES (\(f.tenant), 'citizen.status.received', 'Eingang {{reference}}', 'Wir haben Ihren Antrag zu {{service}} erhalten.')
            """)
        let templated = try await f.application(service: m.service, postalCode: "52525", postbox: UUID())
        let templatedReceipt = try #require(try await f.route(templated, with: routing).receiptMessageID)
        let text = try await db.pool.query("SELECT subject, body, (SELECT reference FROM applications WHERE id = \(templated)) AS reference FROM messages WHERE id = \(templatedReceipt)")[0]
        #expect(try text.decode("subject", as: String.self) == "Eingang " + (try text.decode("reference", as: String.self)))
        #expect(try text.decode("body", as: String.self).hasPrefix("Wir haben Ihren Antrag zu "))
        #expect(!(try text.decode("body", as: String.self)).contains("{{"))
        try await db.pool.query("DELETE FROM queue_jobs WHERE queue = 'citizen-outbox' AND payload ->> 'message_id' = \(templatedReceipt.uuidString.lowercased())")

        // Without a postbox: no message, no outbox job.
        let plain = try await f.application(service: m.service, postalCode: "52525")
        #expect(try await f.route(plain, with: routing).receiptMessageID == nil)
        #expect(try await db.scalar("SELECT count(*)::int FROM messages WHERE application_id = \(plain)", as: Int.self) == 0)
        #expect(try await db.scalar("SELECT count(*)::int FROM queue_jobs WHERE queue = 'citizen-outbox'", as: Int.self) == 1)
    }

    @Test func fallbackAreaWhenNoRuleMatchesElseUnroutable() async throws {
        let db = try await TestDatabase.make()
        let f = try await RoutingFixture.make(db, prefix: "FB")
        let service = try await f.service("permits")
        let north = try await f.area("north", service: service)
        try await f.rule(service: service, area: north, position: 0, "postal_codes", #"{"values": ["52500-52599"]}"#)
        let central = try await f.area("central office", service: nil)
        let clerk = try await f.caseworker("clerk")
        try await f.member(clerk, of: central)
        let metrics = MetricsRegistry()
        let routing = db.makeRouting(metrics: metrics)

        // No fallback configured: unroutable, visible as status, timeline and audit; counted.
        let lost = try await f.application(service: service, postalCode: "10115", postbox: UUID())
        let outcome = try await f.route(lost, with: routing)
        #expect(outcome.decision == .unroutable && outcome.areaID == nil)
        let state = try await f.state(of: lost)
        #expect(state.status == "unroutable" && state.areaID == nil && state.version == 2)
        #expect(try await f.timeline(of: lost).map(\.kind) == ["unroutable"])
        #expect(try await db.scalar("SELECT count(*)::int FROM audit_log WHERE application_id = \(lost) AND action = 'application.route'", as: Int.self) == 1)
        #expect(try await f.emailJobs(for: lost).isEmpty)
        #expect(outcome.receiptMessageID != nil, "the applicant still gets the receipt")
        #expect(routing.metrics.count(.unroutable) == 1)
        #expect(await metrics.render().contains(#"amtsweg_routing_applications_total{decision="unroutable"} 1"#))

        // With a fallback area: it goes there and the timeline says so.
        try await f.fallback(central)
        let app = try await f.application(service: service, postalCode: "10115")
        let fallback = try await f.route(app, with: routing)
        #expect(fallback.decision == .fallback && fallback.areaID == central)
        #expect(try await f.state(of: app).areaID == central)
        let event = try #require(try await f.timeline(of: app).first)
        #expect(event.kind == "assigned" && event.data["decision"] == "fallback" && event.data["note"]?.contains("fallback") == true)
        #expect(try await f.emailJobs(for: app) == [clerk])

        // A matching rule still wins over the fallback.
        let matched = try await f.application(service: service, postalCode: "52510")
        #expect(try await f.route(matched, with: routing).areaID == north)

        // A deactivated fallback area counts as none.
        try await db.pool.query("UPDATE responsibility_areas SET active = false WHERE id = \(central)")
        let again = try await f.application(service: service, postalCode: "10115")
        #expect(try await f.route(again, with: routing).decision == .unroutable)
        #expect(routing.metrics.count(.unroutable) == 2)
    }

    @Test func serviceDeactivatedAfterIntakeIsStillRoutedAndTheTimelineNotesIt() async throws {
        let db = try await TestDatabase.make()
        let f = try await RoutingFixture.make(db, prefix: "DEA")
        let service = try await f.service("old-service")
        let area = try await f.area("all", service: service)
        try await f.rule(service: service, area: area, position: 0, "default", "{}")
        let app = try await f.application(service: service, postalCode: "52525")
        try await db.pool.query("UPDATE services SET active = false WHERE id = \(service)")
        let outcome = try await f.route(app, with: db.makeRouting())
        #expect(outcome.decision == .matchedRule && outcome.areaID == area && outcome.serviceInactive)
        #expect(try await f.timeline(of: app).first?.data["service_inactive"] == "true")
    }

    @Test func routingTwiceChangesNothingTheSecondTime() async throws {
        let db = try await TestDatabase.make()
        let m = try await makeMatrix(db)
        let routing = db.makeRouting()
        let app = try await m.fixture.application(service: m.service, postalCode: "52525", postbox: UUID())
        #expect(try await m.fixture.route(app, with: routing).decision == .matchedRule)
        let second = try await m.fixture.route(app, with: routing)
        #expect(second.decision == .alreadyRouted)
        #expect(try await m.fixture.state(of: app).version == 2)
        #expect(try await m.fixture.timeline(of: app).count == 1)
        #expect(try await m.fixture.emailJobs(for: app).count == 2)
        #expect(try await db.scalar("SELECT count(*)::int FROM messages WHERE application_id = \(app)", as: Int.self) == 1)
        // Withdrawn before routing: left alone.
        let withdrawn = try await m.fixture.application(service: m.service, postalCode: "52525")
        try await db.pool.query("UPDATE applications SET status = 'withdrawn', closed_at = now() WHERE id = \(withdrawn)")
        #expect(try await m.fixture.route(withdrawn, with: routing).decision == .alreadyRouted)
        #expect(try await m.fixture.state(of: withdrawn).status == "withdrawn")
    }

    @Test func areaWithoutMembersIsAssignedWithoutEmailsAndWarns() async throws {
        let db = try await TestDatabase.make()
        let f = try await RoutingFixture.make(db, prefix: "EMP")
        let service = try await f.service("lonely")
        let empty = try await f.area("nobody here", service: service)
        try await f.rule(service: service, area: empty, position: 0, "default", "{}")
        let sink = MemoryLogSink()
        let metrics = MetricsRegistry()
        let routing = db.makeRouting(logger: Logger(service: "routing", minimumLevel: .info, sink: sink), metrics: metrics)
        let app = try await f.application(service: service, postalCode: "52525")
        let outcome = try await f.route(app, with: routing)
        #expect(outcome.decision == .matchedRule && outcome.areaID == empty && outcome.activeMembers == 0)
        #expect(try await f.state(of: app).status == "assigned")
        #expect(try await db.scalar("SELECT count(*)::int FROM queue_jobs WHERE queue = 'notify-email'", as: Int.self) == 0)
        let warnings = sink.lines.filter { $0.contains("\"warning\"") && $0.contains("without active members") }
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains(empty.uuidString.lowercased()) == true)
        #expect(await metrics.render().contains("amtsweg_routing_assigned_without_members_total 1"))

        // An area whose only member is deactivated counts as empty too.
        let former = try await f.caseworker("former", active: false)
        try await f.member(former, of: empty)
        _ = try await f.route(try await f.application(service: service, postalCode: "1"), with: routing)
        #expect(routing.metrics.assignedWithoutMembers == 2)
    }

    @Test func aForwardBeforeRoutingLeavesThePendingRouteJobNothingToDo() async throws {
        let db = try await TestDatabase.make()
        let f = try await RoutingFixture.make(db, prefix: "FWD")
        let service = try await f.service("early")
        let byRule = try await f.area("by rule", service: service)
        let chosen = try await f.area("chosen", service: service)
        try await f.rule(service: service, area: byRule, position: 0, "default", "{}")
        let admin = try await f.caseworker("Leitung")
        let app = try await f.application(service: service, postbox: UUID())
        let routing = db.makeRouting()
        // An admin forwards it while its route job still waits: received → assigned, with the receipt.
        let forwarded = try await db.pool.withTransaction { tx in
            try await routing.lifecycle.apply(.forward, application: app, scope: Scope(tenantID: f.tenant), actor: .caseworker(id: admin, isAdmin: true),
                                              expectedVersion: 1, area: .some(chosen), in: tx)
        }
        #expect(forwarded.summary.status == "assigned" && forwarded.statusMessageID != nil)
        let outcome = try await f.route(app, with: routing)
        #expect(outcome.decision == .alreadyRouted)
        #expect(try await db.scalar("SELECT area_id FROM applications WHERE id = \(app)", as: UUID.self) == chosen)
        #expect(try await db.scalar("SELECT count(*)::int FROM messages WHERE application_id = \(app) AND postbox_status = 'RECEIVED'", as: Int.self) == 1)
    }

    @Test func inboxesOfTheAreaAreWokenAfterCommit() async throws {
        let db = try await TestDatabase.make()
        let f = try await RoutingFixture.make(db, prefix: "NTF")
        let service = try await f.service("wake")
        let area = try await f.area("a", service: service)
        try await f.rule(service: service, area: area, position: 0, "default", "{}")
        let listener = PostgresListener(configuration: db.configuration, logger: db.logger)
        defer { listener.stop() }
        let events = try await listener.subscribe(to: [WakeChannel.inbox(area: area)])
        let app = try await f.application(service: service)
        _ = try await f.route(app, with: db.makeRouting())
        let received = await withTaskGroup(of: ListenerEvent?.self) { group in
            group.addTask { for await event in events { return event }; return nil }
            group.addTask { try? await Task.sleep(for: .seconds(5)); return nil }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        #expect(received == .notification(channel: WakeChannel.inbox(area: area), payload: app.uuidString.lowercased()))
    }
}
