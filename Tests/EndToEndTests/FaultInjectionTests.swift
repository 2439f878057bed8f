import Foundation
import MailTestSupport
import Postgres
import Synchronization
import SystemTestSupport
import TestSupport
import Testing

/// While applications are posted, a random service is SIGKILLed and restarted every few seconds,
/// PostgreSQL crashes once (`pg_ctl stop -m immediate`, then recovery), and the postbox sandbox
/// answers a share of calls with 500 and 429. Afterwards every promise is checked and the figures
/// printed.
///
/// CI runs it with 500 applications. `deploy/fault-test.sh 10000` runs the same test with more
/// (the count comes from `AMTSWEG_FAULT_APPLICATIONS`).
@Suite("Fault injection: service crashes, a database crash and postbox errors lose nothing", .serialized)
struct FaultInjectionTests {
    struct Plan {
        var applications: Int
        /// Offered rate of posting (so that the crashes fall while work is in flight).
        var perSecond: Double
        var posters = 8
        var killEvery: Duration = .seconds(2)
        /// Every this-many-th application is a Hundesteuer one, whose area has a member the SMTP
        /// server refuses for good: exactly those e-mails must end as dead letters.
        var permanentFaultEvery = 25

        static func fromEnvironment() -> Plan {
            let count = Int(ProcessInfo.processInfo.environment["AMTSWEG_FAULT_APPLICATIONS"] ?? "") ?? 500
            // 500 applications take about 12 s; larger runs post faster (the debug build takes ~150/s here).
            return Plan(applications: max(count, 50), perSecond: count <= 1000 ? 40 : 120)
        }
    }

    @Test("every accepted application is assigned once, every e-mail and postbox message arrives, no job is left")
    func crashesDuringLoad() async throws {
        let plan = Plan.fromEnvironment()
        var options = AmtswegSystem.Options()
        options.smtpRejectDomains = ["bounce.example"]
        options.logLevel = "warning"
        try await AmtswegSystem.with(options) { system in
            let report = try await FaultRun(system: system, plan: plan).run()
            print(report.text)
            #expect(report.problems.isEmpty, "\(report.problems.prefix(20).joined(separator: "\n"))")
            #expect(report.kills >= 3, "the run was too short for the crashes to matter")
            #expect(report.postgresRestarted)
        }
    }
}

/// What a fault run found.
struct FaultReport {
    var lines: [String] = []
    var problems: [String] = []
    var kills = 0
    var postgresRestarted = false
    var text: String { (lines + problems.prefix(50).map { "PROBLEM: \($0)" }).joined(separator: "\n") }
}

struct FaultRun: Sendable {
    let system: AmtswegSystem
    let plan: FaultInjectionTests.Plan

    /// One posted application and what it should cause.
    struct Posted: Sendable {
        var id: String
        var reference: String
        var mailbox: String
        var recipients: [String]
        var permanentFault: Bool
    }

    func run() async throws -> FaultReport {
        var report = FaultReport()
        let bounce = try await addRefusedMemberToSteueramt()
        try await system.setSandboxFaults(serverErrorRate: 0.10, rateLimitRate: 0.05, retryAfterSeconds: 1)

        let started = ContinuousClock.now
        let state = RunState()
        let plan = self.plan, system = self.system

        // Chaos: a random service crashes and comes back every `killEvery`; PostgreSQL crashes and
        // recovers once, half way through; one more crash after the last post, while routing, e-mail and
        // postbox work is still in flight.
        async let chaos: Void = {
            while !state.postingDone.load(ordering: .relaxed) {
                try await Task.sleep(for: plan.killEvery)
                if !state.postgresRestarted.load(ordering: .relaxed), state.posted.withLock({ $0.count }) >= plan.applications / 2 {
                    try await system.postgres.crashAndRestart()
                    state.postgresRestarted.store(true, ordering: .relaxed)
                    continue
                }
                try await system.services[AmtswegSystem.serviceNames.randomElement()!]!.crashAndRestart()
                _ = state.kills.add()
            }
            try await system.services[["routing", "notification", "servicekonto-bridge"].randomElement()!]!.crashAndRestart()
            _ = state.kills.add()
        }()
        // Posters: each application with its own Idempotency-Key, retried until it is accepted.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<plan.posters {
                group.addTask {
                    while true {
                        let index = state.next.add(1, ordering: .relaxed).oldValue
                        guard index < plan.applications else { return }
                        let due = started + .milliseconds(Int64(Double(index) * 1000 / plan.perSecond))
                        if due > ContinuousClock.now { try await Task.sleep(until: due) }
                        let application = try await post(index: index, retries: state.retries)
                        state.posted.withLock { $0.append(application) }
                    }
                }
            }
            try await group.waitForAll()
        }
        state.postingDone.store(true, ordering: .relaxed)
        try await chaos
        let postingTime = ContinuousClock.now - started
        let applications = state.posted.withLock { $0 }
        report.kills = state.kills.current
        report.postgresRestarted = state.postgresRestarted.load(ordering: .relaxed)
        report.lines.append("fault run: \(applications.count) applications accepted in \(postingTime) (\(state.retries.current) retried posts), \(report.kills) services SIGKILLed and restarted, PostgreSQL crashed and recovered: \(report.postgresRestarted)")

        // Let everything settle: no job queued or running (or the time is up).
        try await system.setSandboxFaults()
        let settleStart = ContinuousClock.now
        _ = try await eventually(timeout: .seconds(180), every: .milliseconds(250)) {
            try await scalar("SELECT count(*)::int8 AS n FROM queue_jobs") == 0
        }
        report.lines.append("settled \(ContinuousClock.now - settleStart) after the last post")
        try await check(applications, bounce: bounce, into: &report)
        return report
    }

    /// What the posters and the chaos task share.
    final class RunState: Sendable {
        let posted = Mutex<[Posted]>([])
        let next = Atomic<Int>(0)
        let postingDone = Atomic<Bool>(false)
        let postgresRestarted = Atomic<Bool>(false)
        let retries = SharedCounter()
        let kills = SharedCounter()
    }

    // MARK: Posting

    private func post(index: Int, retries: SharedCounter) async throws -> FaultRun.Posted {
        let permanentFault = index % plan.permanentFaultEvery == 0
        let mailbox = UUID().uuidString.lowercased()
        let body: [String: any Sendable] = [
            "service": permanentFault ? "hundesteuer" : "anwohnerparkausweis",
            "applicant": [
                "name": "Antrag \(index)", "address": ["postal_code": "41812", "municipality_key": "05370012"] as [String: any Sendable],
                "postbox": ["mailbox_id": mailbox, "trust_level": "substantial", "document_consent": false] as [String: any Sendable],
            ] as [String: any Sendable],
            "form": ["index": index],
        ]
        let key = "fault-run-\(index)-\(mailbox)"
        let client = system.intakeClient(key: system.demo.erkelenzIntakeKey)
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            // A crash can cut the answer off: the same key returns the same application.
            if let response = try? await client.post("/v1/applications", body, headers: ["Idempotency-Key": key]) {
                if response.status == 201 || response.status == 200, let id = response["id"], let reference = response["reference"] {
                    return Posted(
                        id: id, reference: reference, mailbox: mailbox,
                        recipients: permanentFault ? ["ben.hoffmann@erkelenz.example"] : ["anna.schmitz@erkelenz.example"],
                        permanentFault: permanentFault)
                }
                // 503 (database away) and 429 are worth a retry; any other 4xx is this test's mistake.
                if (400..<500).contains(response.status) && response.status != 429 {
                    throw FixtureError("intake refused application \(index): \(response)")
                }
            }
            _ = retries.add()
            try await Task.sleep(for: .milliseconds(100))
        }
        throw FixtureError("application \(index) was not accepted within 120 s")
    }

    /// Adds a caseworker whose address the SMTP server refuses (550) to the Steueramt (Hundesteuer).
    private func addRefusedMemberToSteueramt() async throws -> String {
        let admin = system.inboxClient(token: system.demo.claraAdminToken)
        let created = try await admin.post("/v1/admin/caseworkers", ["name": "Vertretung Steueramt", "email": "vertretung@bounce.example"])
        guard created.status == 201, let id = created["id"] else { throw FixtureError("create caseworker: \(created)") }
        let areas = try await admin.get("/v1/admin/areas").json["items"] as? [[String: Any]] ?? []
        let caseworkers = try await admin.get("/v1/admin/caseworkers").json["items"] as? [[String: Any]] ?? []
        guard let steueramt = areas.first(where: { $0["name"] as? String == "Steueramt" })?["id"] as? String,
              let ben = caseworkers.first(where: { $0["email"] as? String == "ben.hoffmann@erkelenz.example" })?["id"] as? String else {
            throw FixtureError("demo seed has no Steueramt or Ben")
        }
        let members = try await admin.call("PUT", "/v1/admin/areas/\(steueramt)/members", json: ["caseworker_ids": [ben, id]])
        guard members.status == 200 else { throw FixtureError("set members: \(members)") }
        return id
    }

    // MARK: Checking

    private func scalar(_ query: SQLQuery) async throws -> Int {
        try await system.database.query(query).first!.decode("n", as: Int.self)
    }

    private func check(_ applications: [Posted], bounce: String, into report: inout FaultReport) async throws {
        let ids = applications.map { $0.id }
        // Every accepted application exists once, is assigned, and was assigned exactly once.
        let rows = try await system.database.query("""
            SELECT a.id::text AS id, a.status,
                   (SELECT count(*) FROM timeline_events e WHERE e.tenant_id = a.tenant_id AND e.application_id = a.id
                     AND e.from_status = 'received' AND e.to_status = 'assigned')::int8 AS assignments
            FROM applications a WHERE a.id = ANY(\(ids)::uuid[])
            """)
        var byID: [String: (status: String, assignments: Int)] = [:]
        for row in rows { byID[try row.decode("id")] = (try row.decode("status"), try row.decode("assignments")) }
        let total = try await scalar("SELECT count(*)::int8 AS n FROM applications")
        if Set(ids).count != ids.count { report.problems.append("intake gave the same id to two different posts") }
        if total != applications.count { report.problems.append("\(total) applications stored for \(applications.count) accepted posts") }
        var notAssigned = 0, assignedTwice = 0
        for application in applications {
            guard let found = byID[application.id] else {
                report.problems.append("accepted application \(application.reference) is missing")
                continue
            }
            if found.status != "assigned" { notAssigned += 1; report.problems.append("\(application.reference) is \(found.status), not assigned") }
            if found.assignments > 1 { assignedTwice += 1; report.problems.append("\(application.reference) was assigned \(found.assignments) times") }
        }
        report.lines.append("applications: \(applications.count) accepted, \(byID.count) stored, \(notAssigned) not assigned, \(assignedTwice) assigned more than once")

        // E-mails: each expected one at least once; repeats share their Message-ID.
        var mailsBySubjectReference: [String: [SMTPJournalEntry]] = [:]
        for entry in try system.smtp.journal() {
            if let reference = entry.reference { mailsBySubjectReference[reference, default: []].append(entry) }
        }
        var missingMails = 0, duplicateMails = 0, differentIDs = 0, mailsReceived = 0
        for application in applications {
            let mails = mailsBySubjectReference[application.reference] ?? []
            mailsReceived += mails.count
            for recipient in application.recipients {
                let copies = mails.filter { $0.to.contains(recipient) }
                if copies.isEmpty { missingMails += 1; report.problems.append("no e-mail to \(recipient) for \(application.reference)") }
                duplicateMails += max(copies.count - 1, 0)
                if Set(copies.map(\.message_id)).count > 1 { differentIDs += 1; report.problems.append("repeated e-mail for \(application.reference) with a new Message-ID") }
            }
            if mails.contains(where: { $0.to.contains { $0.hasSuffix("@bounce.example") } }) {
                report.problems.append("the SMTP server accepted a refused address for \(application.reference)")
            }
        }
        report.lines.append("e-mails: \(mailsReceived) received, \(missingMails) missing, \(duplicateMails) duplicates (after crashes; \(differentIDs) with a different Message-ID)")

        // Postbox: exactly one RECEIVED status per application (by id), redeliveries counted.
        let journal = try await system.sandboxJournal()
        var statusesByApplication: [String: [SandboxJournalEntry]] = [:]
        for entry in journal where entry.kind == "status" { statusesByApplication[entry.applicationId ?? "", default: []].append(entry) }
        var missingStatuses = 0, extraStatuses = 0
        for application in applications {
            let statuses = statusesByApplication[application.id] ?? []
            if statuses.isEmpty { missingStatuses += 1; report.problems.append("no RECEIVED status in the postbox for \(application.reference)") }
            if statuses.count > 1 { extraStatuses += 1; report.problems.append("\(statuses.count) status messages for \(application.reference)") }
        }
        let redeliveries = journal.reduce(0) { $0 + $1.deliveries - 1 }
        let sandbox = try await system.sandboxClient.get("/sandbox/stats").json
        report.lines.append("postbox: \(journal.count) stored, \(missingStatuses) missing, \(extraStatuses) applications with more than one; \(redeliveries) redeliveries of a stored id; sandbox injected \(sandbox["serverErrors"] ?? 0) × 500 and \(sandbox["rateLimited"] ?? 0) × 429")

        // No job left; dead letters exactly where the permanent fault was injected.
        let leftJobs = try await scalar("SELECT count(*)::int8 AS n FROM queue_jobs")
        if leftJobs != 0 { report.problems.append("\(leftJobs) jobs left on the queues") }
        let deadLetters = try await system.database.query("SELECT queue, payload->>'caseworker_id' AS caseworker, payload->>'application_id' AS application FROM queue_dead_letters")
        let expectedDead = Set(applications.filter(\.permanentFault).map(\.id))
        var deadForBounce = Set<String>()
        for row in deadLetters {
            let queue: String = try row.decode("queue")
            let caseworker = try row.decode("caseworker", as: String?.self)
            let application = try row.decode("application", as: String?.self) ?? ""
            if queue == "notify-email" && caseworker == bounce && expectedDead.contains(application) {
                deadForBounce.insert(application)
            } else {
                report.problems.append("unexpected dead letter on \(queue) for application \(application)")
            }
        }
        if deadForBounce != expectedDead { report.problems.append("\(expectedDead.subtracting(deadForBounce).count) refused e-mails did not become dead letters") }
        report.lines.append("queues: \(leftJobs) jobs left; \(deadLetters.count) dead letters, expected \(expectedDead.count) (the refused address)")
    }
}
