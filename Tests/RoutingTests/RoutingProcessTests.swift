import Foundation
import Domain
import HTTPTestSupport
import Postgres
import Routing
import Testing
import TestSupport

/// The built `routing` executable in a process of its own, ready (`/readyz`) when this returns.
func startRouting(databaseURL: String, environment: [String: String] = [:]) async throws -> ManagedProcess {
    let process = try ManagedProcess(
        name: "routing-\(UUID().uuidString.prefix(8))", product: "routing", port: try freeLoopbackPort(),
        environment: [
            "DATABASE_URL": databaseURL, "LOG_LEVEL": "info",
            "ROUTING_CONCURRENCY": "4", "ROUTING_BATCH_SIZE": "50", "ROUTING_POLL_SECONDS": "0.5",
        ].merging(environment) { $1 },
        logDirectory: NSTemporaryDirectory())
    try await process.start()
    return process
}

extension ManagedProcess {
    /// Applications this process routed, from its `/metrics`.
    func routedCount() async throws -> Int {
        let response = try await request(port: port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        var total = 0.0
        for line in response.bodyText.split(separator: "\n") where line.hasPrefix("amtsweg_routing_applications_total{") && !line.contains("already_routed") {
            total += Double(line.split(separator: " ").last ?? "0") ?? 0
        }
        return Int(total)
    }
}

/// Several routing processes on one queue; one killed mid-batch.
@Suite(.serialized) struct RoutingProcessTests {
    /// Service with three areas by postal code (two ranges and a default), members of which some
    /// want e-mail, and `count` applications with postboxes and spread postal codes.
    struct Scenario {
        let fixture: RoutingFixture
        let applications: [UUID]
        let expectedArea: [UUID: UUID]
        let expectedEmails: [UUID: Set<UUID>]
    }

    static func postalCode(_ n: Int) -> String { String(format: "%05d", (n &* 7919) % 100_000) }

    func makeScenario(_ db: TestDatabase, count: Int) async throws -> Scenario {
        let f = try await RoutingFixture.make(db, prefix: "PRC")
        let service = try await f.service("parking")
        let low = try await f.area("low", service: service)
        let mid = try await f.area("mid", service: service)
        let rest = try await f.area("rest", service: service)
        try await f.rule(service: service, area: low, position: 0, "postal_codes", #"{"values": ["00000-33333"]}"#)
        try await f.rule(service: service, area: mid, position: 1, "postal_codes", #"{"values": ["33334-66666"]}"#)
        try await f.rule(service: service, area: rest, position: 2, "default", "{}")
        var emails: [UUID: Set<UUID>] = [:]
        for (area, members) in [(low, 3), (mid, 4), (rest, 2)] {
            var wanting: Set<UUID> = []
            for index in 0..<members {
                let caseworker = try await f.caseworker("m\(index)-\(area.uuidString.prefix(8))")
                try await f.member(caseworker, of: area)
                wanting.insert(caseworker)
            }
            let quiet = try await f.caseworker("quiet-\(area.uuidString.prefix(8))", email: false)
            let gone = try await f.caseworker("gone-\(area.uuidString.prefix(8))", active: false)
            try await f.member(quiet, of: area)
            try await f.member(gone, of: area)
            emails[area] = wanting
        }
        let apps = try await f.applications(service: service, count: count, postbox: true, postalCode: Self.postalCode)
        var expectedArea: [UUID: UUID] = [:]
        var expectedEmails: [UUID: Set<UUID>] = [:]
        for (n, app) in apps.enumerated() {
            let code = Int(Self.postalCode(n))!
            let area = code <= 33333 ? low : code <= 66666 ? mid : rest
            expectedArea[app] = area
            expectedEmails[app] = emails[area]
        }
        try await f.enqueueRoute(apps)
        return Scenario(fixture: f, applications: apps, expectedArea: expectedArea, expectedEmails: expectedEmails)
    }

    func allRouted(_ db: TestDatabase, _ count: Int) async throws -> Bool {
        let assigned = try await db.scalar("SELECT count(*)::int FROM applications WHERE status = 'assigned'", as: Int.self)
        let queued = try await db.scalar("SELECT count(*)::int FROM queue_jobs WHERE queue = 'route'", as: Int.self)
        return assigned == count && queued == 0
    }

    /// Every application assigned once to its expected area, with one timeline event, one audit
    /// entry, one receipt, one outbox job and exactly one e-mail job per member who wants one.
    func verifyExactlyOnce(_ db: TestDatabase, _ s: Scenario) async throws {
        let states = try await db.pool.query("SELECT id, status, area_id, version FROM applications")
        #expect(states.count == s.applications.count)
        var wrong = 0
        for row in states {
            let id = try row.decode("id", as: UUID.self)
            if try row.decode("status", as: String.self) != "assigned" || row.decode("area_id", as: UUID?.self) != s.expectedArea[id]
                || row.decode("version", as: Int.self) != 2 { wrong += 1 }
        }
        #expect(wrong == 0, "\(wrong) applications not assigned exactly once to their area")
        let perApp = try await db.pool.query("""
            SELECT a.id,
                   (SELECT count(*) FROM timeline_events t WHERE t.application_id = a.id AND t.kind = 'assigned')::int AS events,
                   (SELECT count(*) FROM audit_log l WHERE l.application_id = a.id AND l.action = 'application.route')::int AS audits,
                   (SELECT count(*) FROM messages m WHERE m.application_id = a.id)::int AS receipts
            FROM applications a
            """)
        let badTrail = try perApp.filter { try $0.decode("events", as: Int.self) != 1 || $0.decode("audits", as: Int.self) != 1 || $0.decode("receipts", as: Int.self) != 1 }
        #expect(badTrail.count == 0, "\(badTrail.count) applications without exactly one timeline event, audit entry and receipt")
        #expect(try await db.scalar("SELECT count(*)::int FROM queue_jobs WHERE queue = 'citizen-outbox'", as: Int.self) == s.applications.count)
        #expect(try await db.scalar("SELECT count(DISTINCT payload ->> 'message_id')::int FROM queue_jobs WHERE queue = 'citizen-outbox'", as: Int.self) == s.applications.count)

        let jobs = try await db.pool.query("""
            SELECT (payload ->> 'application_id')::uuid AS app, (payload ->> 'caseworker_id')::uuid AS caseworker, count(*)::int AS n
            FROM queue_jobs WHERE queue = 'notify-email' GROUP BY 1, 2
            """)
        var received: [UUID: Set<UUID>] = [:]
        var duplicates = 0
        for row in jobs {
            if try row.decode("n", as: Int.self) != 1 { duplicates += 1 }
            received[try row.decode("app", as: UUID.self), default: []].insert(try row.decode("caseworker", as: UUID.self))
        }
        #expect(duplicates == 0, "\(duplicates) e-mail jobs created more than once")
        let mismatched = s.applications.filter { received[$0] != s.expectedEmails[$0] }
        #expect(mismatched.count == 0, "\(mismatched.count) applications whose e-mail jobs are not exactly their area's members who want e-mail")
        let expectedTotal = s.expectedEmails.values.reduce(0) { $0 + $1.count }
        #expect(try await db.scalar("SELECT count(*)::int FROM queue_jobs WHERE queue = 'notify-email'", as: Int.self) == expectedTotal)
    }

    @Test func threeRoutingProcessesAssignFiveThousandApplicationsExactlyOnce() async throws {
        let db = try await TestDatabase.make()
        let scenario = try await makeScenario(db, count: 5000)
        var processes: [ManagedProcess] = []
        for _ in 0..<3 { processes.append(try await startRouting(databaseURL: db.url)) }
        let done = try await eventually(timeout: .seconds(180), every: .milliseconds(200)) { try await allRouted(db, 5000) }
        #expect(done)
        try await verifyExactlyOnce(db, scenario)
        let counts = try await processes.asyncMap { try await $0.routedCount() }
        #expect(counts.reduce(0, +) == 5000, "per-process counts \(counts)")
        #expect(counts.allSatisfy { $0 > 0 }, "every process routed some: \(counts)")
        for process in processes { #expect(await process.stop(), "clean exit on SIGTERM:\n\(process.logTail())") }
    }

    @Test func aRoutingProcessKilledMidBatchLeavesTheSameResult() async throws {
        let db = try await TestDatabase.make()
        let count = 3000
        let scenario = try await makeScenario(db, count: count)
        let first = try await startRouting(databaseURL: db.url, environment: ["ROUTING_LEASE_SECONDS": "2"])
        let started = try await eventually(timeout: .seconds(60), every: .milliseconds(5)) {
            try await db.scalar("SELECT count(*)::int FROM applications WHERE status = 'assigned'", as: Int.self) >= 300
        }
        #expect(started)
        await first.kill()
        let assignedAtKill = try await db.scalar("SELECT count(*)::int FROM applications WHERE status = 'assigned'", as: Int.self)
        let heldByTheDead = try await db.scalar("SELECT count(*)::int FROM queue_jobs WHERE queue = 'route' AND lease_id IS NOT NULL AND run_at > now()", as: Int.self)
        #expect(assignedAtKill < count, "killed before the end")
        #expect(heldByTheDead > 0, "killed while holding claimed jobs")

        let second = try await startRouting(databaseURL: db.url)
        let done = try await eventually(timeout: .seconds(180), every: .milliseconds(200)) { try await allRouted(db, count) }
        #expect(done)
        try await verifyExactlyOnce(db, scenario)
        #expect(try await second.routedCount() == count - assignedAtKill)
        await second.stop()
    }
}

extension RoutingProcessTests {
    @Test func theExecutableAssignsToAnAreaWithoutMembersWarnsAndCountsIt() async throws {
        let db = try await TestDatabase.make()
        let f = try await RoutingFixture.make(db, prefix: "EMPTY")
        let service = try await f.service("lonely")
        let empty = try await f.area("nobody", service: service)
        try await f.rule(service: service, area: empty, position: 0, "default", "{}")
        let app = try await f.application(service: service, postalCode: "52525", postbox: UUID())
        try await f.enqueueRoute([app])
        let process = try await startRouting(databaseURL: db.url)
        let done = try await eventually(timeout: .seconds(30)) { try await allRouted(db, 1) }
        #expect(done)
        let state = try await f.state(of: app)
        #expect(state.status == "assigned" && state.areaID == empty)
        #expect(try await db.scalar("SELECT count(*)::int FROM queue_jobs WHERE queue = 'notify-email'", as: Int.self) == 0)
        #expect(try await db.scalar("SELECT count(*)::int FROM queue_jobs WHERE queue = 'citizen-outbox'", as: Int.self) == 1)
        let warned = await eventually(timeout: .seconds(5)) {
            process.log.split(separator: "\n").contains { $0.contains("\"level\":\"warning\"") && $0.contains("without active members") && $0.contains(empty.uuidString.lowercased()) }
        }
        #expect(warned, "warning in the log:\n\(process.log.suffix(2000))")
        let metrics = try await request(port: process.port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").bodyText
        #expect(metrics.contains("amtsweg_routing_assigned_without_members_total 1"), "\(metrics)")
        let ready = try await request(port: process.port, "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        #expect(ready.status == 200, "\(ready.bodyText)")
        await process.stop()
    }
}

extension Array where Element: Sendable {
    func asyncMap<T: Sendable>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
