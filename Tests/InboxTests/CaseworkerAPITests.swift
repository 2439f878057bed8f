import Administration
import Foundation
import Domain
import JobQueue
import Postgres
import Synchronization
import Testing
import TestSupport

@Suite("Inbox caseworker API", .serialized)
struct CaseworkerAPITests {
    @Test("GET /v1/me names the caseworker, tenant and areas")
    func me() async throws {
        try await InboxHarness.with { h in
            let response = try await h.get("/v1/me", as: h.cw1)
            #expect(response.status == 200)
            #expect(response.json["name"] as? String == "Anna Nord")
            #expect((response.json["tenant"] as? [String: Any])?["slug"] as? String == "erkelenz")
            let areas = (response.json["areas"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(areas == [h.north.uuidString.lowercased()])
            #expect(try await h.request("GET", "/v1/me", token: nil).status == 401)
            #expect(try await h.request("GET", "/v1/me", token: "amtsweg_ct_nonsense").status == 401)
        }
    }

    @Test("inbox lists the caseworker's areas, filters, pages with a cursor, and answers 304 to the same ETag")
    func inboxListing() async throws {
        try await InboxHarness.with { h in
            var northIDs: [UUID] = []
            for _ in 0..<5 { northIDs.append(try await h.makeApplication(area: h.north)) }
            try await h.makeApplication(area: h.south)
            try await h.makeApplication(tenant: h.tenantB, area: h.areaB)
            try await h.makeApplication(area: h.north, status: "completed", claimedBy: h.cw1.id)

            let all = try await h.get("/v1/inbox", as: h.cw1)
            #expect(all.status == 200)
            let ids = all.items.compactMap { $0["id"] as? String }
            #expect(Set(ids) == Set(northIDs.map { $0.uuidString.lowercased() }))
            #expect(ids == northIDs.reversed().map { $0.uuidString.lowercased() }, "newest first")
            let etag = try #require(all.header("ETag"))

            let again = try await h.get("/v1/inbox", as: h.cw1, headers: ["If-None-Match": etag])
            #expect(again.status == 304)
            #expect(again.header("ETag") == etag)

            // Pages of two, following next_cursor, give every item once.
            var seen: [String] = []
            var cursor: String?
            repeat {
                let path = "/v1/inbox?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await h.get(path, as: h.cw1)
                #expect(page.status == 200)
                seen += page.items.compactMap { $0["id"] as? String }
                cursor = page.json["next_cursor"] as? String
            } while cursor != nil
            #expect(seen == ids)

            let completed = try await h.get("/v1/inbox?status=completed", as: h.cw1)
            #expect(completed.items.count == 1)
            #expect(try await h.get("/v1/inbox?claimed_by=me", as: h.cw1).items.isEmpty)
            #expect(try await h.get("/v1/inbox?q=mustermann", as: h.cw1).items.count == 5)
            let byReference = all.items[0]["reference"] as! String
            #expect(try await h.get("/v1/inbox?q=\(byReference)", as: h.cw1).items.count == 1)
            #expect(try await h.get("/v1/inbox?service=dogs", as: h.cw1).items.isEmpty)
            #expect(try await h.get("/v1/inbox?status=bogus", as: h.cw1).status == 422)
            #expect(try await h.get("/v1/inbox?cursor=zzz", as: h.cw1).status == 422)
            #expect(try await h.get("/v1/inbox?limit=0", as: h.cw1).status == 422)

            // The admin sees the whole tenant, never the other one.
            let admin = try await h.get("/v1/inbox", as: h.adminA)
            #expect(admin.items.count == 6)
        }
    }

    @Test("long-poll wakes within 100 ms of an assignment to the caseworker's area; 304 with the same ETag otherwise")
    func longPoll() async throws {
        try await InboxHarness.with { h in
            try await h.makeApplication(area: h.north)
            let first = try await h.get("/v1/inbox", as: h.cw1)
            let etag = try #require(first.header("ETag"))

            // Nothing changes: 304 with the same ETag after about the wait.
            let started = ContinuousClock.now
            let idle = try await h.get("/v1/inbox?wait=1", as: h.cw1, headers: ["If-None-Match": etag])
            let idleTime = ContinuousClock.now - started
            #expect(idle.status == 304)
            #expect(idle.header("ETag") == etag)
            #expect(idleTime >= .milliseconds(950) && idleTime < .seconds(3))

            // A change in another area does not wake it; an assignment to north does, quickly.
            let committedAt = SharedInstant()
            async let polled = h.get("/v1/inbox?wait=20", as: h.cw1, headers: ["If-None-Match": etag], timeout: 30)
            try await Task.sleep(for: .milliseconds(300))
            let unrelated = try await h.makeApplication(area: nil, status: "received")
            try await h.db.pool.withTransaction { tx in
                try await tx.query("UPDATE applications SET status = 'assigned', area_id = \(h.south) WHERE id = \(unrelated)")
                try await tx.query("SELECT pg_notify('inbox.' || \(h.south.uuidString.lowercased()), \(unrelated.uuidString.lowercased()))")
            }
            try await Task.sleep(for: .milliseconds(300))
            let routed = try await h.makeApplication(area: nil, status: "received")
            committedAt.set(ContinuousClock.now)  // before the commit: the measured latency is an upper bound
            try await h.db.pool.withTransaction { tx in
                try await tx.query("UPDATE applications SET status = 'assigned', area_id = \(h.north) WHERE id = \(routed)")
                try await tx.query("SELECT pg_notify('inbox.' || \(h.north.uuidString.lowercased()), \(routed.uuidString.lowercased()))")
            }
            let response = try await polled
            let latency = ContinuousClock.now - committedAt.get()!
            #expect(response.status == 200)
            #expect(response.items.contains { $0["id"] as? String == routed.uuidString.lowercased() })
            #expect(response.header("ETag") != etag)
            #expect(latency < .milliseconds(100), "woke after \(latency)")
        }
    }

    @Test("reading an application or an attachment writes an audit entry; the audit log cannot be changed through the API")
    func auditedReads() async throws {
        try await InboxHarness.with { h in
            let id = try await h.makeApplication(area: h.north)
            let attachment = try await h.attachmentID(of: id)
            let detail = try await h.get("/v1/applications/\(id.uuidString.lowercased())", as: h.cw1)
            #expect(detail.status == 200)
            #expect((detail.json["applicant"] as? [String: Any])?["name"] as? String == "Erika Mustermann")
            #expect((detail.json["attachments"] as? [Any])?.count == 1)
            #expect(detail.header("ETag") == "\"1\"")
            #expect(try await h.count("SELECT count(*)::integer FROM audit_log WHERE action = 'application.read' AND application_id = \(id) AND actor_id = \(h.cw1.id)") == 1)

            let file = try await h.get("/v1/applications/\(id.uuidString.lowercased())/attachments/\(attachment.uuidString.lowercased())", as: h.cw1)
            #expect(file.status == 200)
            #expect(file.text == "%PDF-1.7 Fahrzeugschein")
            #expect(file.header("Content-Type") == "application/pdf")
            // Opened in the browser, a file runs nothing and loads nothing.
            #expect(file.header("Content-Security-Policy") == "sandbox; default-src 'none'")
            #expect(file.header("X-Content-Type-Options") == "nosniff")
            #expect(file.header("Content-Disposition")?.contains("filename*=UTF-8''Fahrzeugschein%20M%C3%BCller.pdf") == true)
            #expect(try await h.count("SELECT count(*)::integer FROM audit_log WHERE action = 'attachment.read' AND application_id = \(id)") == 1)

            // A search by name is a read of personal data too.
            _ = try await h.get("/v1/inbox?q=Erika", as: h.cw1)
            #expect(try await h.count("SELECT count(*)::integer FROM audit_log WHERE action = 'inbox.search' AND actor_id = \(h.cw1.id)") == 1)

            // No route changes the audit log; the database refuses it too.
            #expect(try await h.request("DELETE", "/v1/admin/audit", token: h.adminA.token).status == 405)
            #expect(try await h.request("PUT", "/v1/admin/audit", token: h.adminA.token, json: [:]).status == 405)
            await #expect(throws: PostgresError.self) {
                try await h.db.pool.query("UPDATE audit_log SET action = 'x.y' WHERE application_id = \(id)")
            }
            await #expect(throws: PostgresError.self) {
                try await h.db.pool.query("DELETE FROM audit_log")
            }
        }
    }

    @Test("claim race: ten caseworkers claim at once, one 200 and nine 409 naming the holder")
    func claimRace() async throws {
        try await InboxHarness.with(maxConnections: 40) { h in
            let id = try await h.makeApplication(area: h.north)
            var members: [InboxHarness.Member] = []
            for index in 0..<10 { members.append(try await h.addMember(name: "Claimer \(index)", area: h.north)) }
            let path = "/v1/applications/\(id.uuidString.lowercased())/claim"
            let responses = try await withThrowingTaskGroup(of: (InboxHarness.Member, InboxHarness.Response).self) { group in
                for member in members {
                    group.addTask { (member, try await h.post(path, as: member, ifMatch: 1)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let winners = responses.filter { $0.1.status == 200 }
            let losers = responses.filter { $0.1.status == 409 }
            #expect(winners.count == 1)
            #expect(losers.count == 9)
            let holder = try #require(winners.first?.0)
            for (_, response) in losers {
                #expect(response.code == "claimed-by-other")
                #expect(response.json["holder_id"] as? String == holder.id.uuidString.lowercased())
                #expect(response.json["holder_name"] as? String == holder.name)
            }
            #expect(try await h.status(of: id) == "in_progress")
            #expect(try await h.version(of: id) == 2)
        }
    }

    @Test("writes need the current version: 428 without If-Match, 412 when stale; illegal transitions are 409 with the current state")
    func versionsAndTransitions() async throws {
        try await InboxHarness.with { h in
            let id = try await h.makeApplication(area: h.north)
            let base = "/v1/applications/\(id.uuidString.lowercased())"
            #expect(try await h.post("\(base)/claim", as: h.cw1).status == 428)
            #expect(try await h.post("\(base)/claim", as: h.cw1, ifMatch: 7).status == 412)
            // A version past what a version can be is the client's mistake, never a 500.
            let huge = try await h.post("\(base)/claim", as: h.cw1, ifMatch: 99_999_999_999)
            #expect(huge.status == 400 && huge.json["code"] as? String == "invalid-if-match", "\(huge.status): \(huge.text)")
            let claimed = try await h.post("\(base)/claim", as: h.cw1, ifMatch: 1)
            #expect(claimed.status == 200)
            #expect(claimed.header("ETag") == "\"2\"")
            #expect(claimed.json["status"] as? String == "in_progress")

            // Another caseworker cannot work on it.
            let foreign = try await h.post("\(base)/status", as: h.cw2, json: ["status": "completed", "outcome": "done"], ifMatch: 2)
            #expect(foreign.status == 409)
            #expect(foreign.json["holder_name"] as? String == "Anna Nord")

            // Illegal: in_progress → in_progress; claim again.
            let illegal = try await h.post("\(base)/status", as: h.cw1, json: ["status": "in_progress"], ifMatch: 2)
            #expect(illegal.status == 409)
            #expect(illegal.json["current_state"] as? String == "in_progress")
            #expect(try await h.post("\(base)/claim", as: h.cw1, ifMatch: 2).json["current_state"] as? String == "in_progress")

            // Status changes: awaiting → in progress → completed; each with a status message and a job.
            #expect(try await h.post("\(base)/status", as: h.cw1, json: ["status": "awaiting_applicant"], ifMatch: 2).status == 200)
            #expect(try await h.post("\(base)/status", as: h.cw1, json: ["status": "in_progress", "note": "Unterlagen kamen per Post"], ifMatch: 3).status == 200)
            #expect(try await h.post("\(base)/status", as: h.cw1, json: ["status": "completed"], ifMatch: 4).status == 422)
            let done = try await h.post("\(base)/status", as: h.cw1, json: ["status": "completed", "outcome": "approved"], ifMatch: 4)
            #expect(done.status == 200)
            #expect(done.json["outcome"] as? String == "approved")
            #expect(try await h.post("\(base)/release", as: h.cw1, ifMatch: 5).json["current_state"] as? String == "completed")
            // claim (PROCESSING), awaiting (ACTION_REQUIRED), resume (PROCESSING), completed (COMPLETED)
            let statuses = try await h.db.pool.query("""
                SELECT postbox_status FROM messages WHERE application_id = \(id) AND kind = 'status' AND delivery_state = 'queued' ORDER BY created_at
                """).map { try $0.decode("postbox_status", as: String.self) }
            #expect(statuses == ["PROCESSING", "ACTION_REQUIRED", "PROCESSING", "COMPLETED"])
            let jobs = try await h.db.pool.query("""
                SELECT payload->>'message_id' AS message_id FROM queue_jobs WHERE queue = 'citizen-outbox' AND tenant_id = \(h.tenantA)
                """).map { try $0.decode("message_id", as: String.self) }
            let messageIDs = try await h.db.pool.query("SELECT id::text FROM messages WHERE application_id = \(id)").map { try $0.decode("id", as: String.self) }
            #expect(Set(jobs) == Set(messageIDs))
            #expect(try await h.count("SELECT count(*)::integer FROM application_notes WHERE application_id = \(id)") == 1)
            #expect(try await h.count("SELECT count(*)::integer FROM timeline_events WHERE application_id = \(id) AND kind IN ('claimed', 'awaiting_applicant', 'resumed', 'completed')") == 4)
        }
    }

    @Test("release and forward: back to assigned, wakes both areas, notifies the new area's members")
    func releaseAndForward() async throws {
        try await InboxHarness.with { h in
            let id = try await h.makeApplication(area: h.north, postbox: nil)
            let base = "/v1/applications/\(id.uuidString.lowercased())"
            // What the inboxes' long-polls listen to: each area's wake channel, naming the application.
            let north = WakeChannel.inbox(area: h.north), south = WakeChannel.inbox(area: h.south)
            let woken = Mutex<[String: Int]>([:])
            let events = try await h.listener.subscribe(to: [north, south])
            let listening = Task {
                for await event in events {
                    if case .notification(let channel, let payload) = event, payload == id.uuidString.lowercased() {
                        woken.withLock { $0[channel, default: 0] += 1 }
                    }
                }
            }
            defer { listening.cancel() }
            #expect(try await h.post("\(base)/claim", as: h.cw1, ifMatch: 1).status == 200)
            #expect(try await h.post("\(base)/release", as: h.cw2, ifMatch: 2).status == 409)
            let released = try await h.post("\(base)/release", as: h.cw1, ifMatch: 2)
            #expect(released.status == 200)
            #expect(released.json["claimed_by"] is NSNull)
            #expect(await eventually(timeout: .seconds(5)) { woken.withLock { $0[north] ?? 0 } >= 2 }, "claim and release wake north")
            let badArea = try await h.post("\(base)/forward", as: h.cw1, json: ["area_id": h.areaB.uuidString.lowercased()], ifMatch: 3)
            #expect(badArea.status == 422)
            // An area of another service of the same tenant cannot take a parking application.
            let admin = AdminStore(pool: h.db.pool)
            let dogs = try await admin.createService(tenant: h.tenantA, key: "hundesteuer", name: "Hundesteuer")
            let taxOffice = try await admin.createArea(tenant: h.tenantA, service: dogs.id, name: "Steueramt", rules: [])
            let otherService = try await h.post("\(base)/forward", as: h.cw1, json: ["area_id": taxOffice.id.uuidString.lowercased()], ifMatch: 3)
            #expect(otherService.status == 422)
            #expect((otherService.json["errors"] as? [[String: Any]])?.first?["code"] as? String == "area-of-another-service", "\(otherService)")
            let before = woken.withLock { $0 }
            #expect(before[south] == nil, "nothing so far concerned south")
            let forwarded = try await h.post("\(base)/forward", as: h.cw1, json: ["area_id": h.south.uuidString.lowercased(), "note": "Zuständigkeit Süd"], ifMatch: 3)
            #expect(forwarded.status == 200)
            // Both areas' inboxes are woken: north loses the application, south gets it.
            #expect(await eventually(timeout: .seconds(5)) { woken.withLock { $0[north] ?? 0 } > before[north] ?? 0 }, "forward wakes the old area")
            #expect(await eventually(timeout: .seconds(5)) { woken.withLock { $0[south] ?? 0 } >= 1 }, "forward wakes the new area")
            #expect(forwarded.json["area_id"] as? String == h.south.uuidString.lowercased())
            #expect(try await h.get(base, as: h.cw1).status == 404, "no longer in north's view")
            #expect(try await h.get(base, as: h.cw3).status == 200)
            #expect(try await h.count("""
                SELECT count(*)::integer FROM queue_jobs WHERE queue = 'notify-email' AND payload->>'kind' = 'new_application'
                  AND payload->>'caseworker_id' = \(h.cw3.id.uuidString.lowercased())
                """) == 1)
            // No postbox: no status messages at all.
            #expect(try await h.count("SELECT count(*)::integer FROM messages WHERE application_id = \(id)") == 0)
        }
    }

    @Test("every write needs the application's real version: messages and notes too, and If-Match: * is not a version")
    func everyWriteNeedsTheVersion() async throws {
        try await InboxHarness.with { h in
            let id = try await h.makeApplication(area: h.north, status: "in_progress", claimedBy: h.cw1.id)
            let base = "/v1/applications/\(id.uuidString.lowercased())"
            let message: [String: Any] = ["kind": "information", "subject": "Info", "body": "Text"]
            let note: [String: Any] = ["body": "Notiz"]
            for (path, body) in [("\(base)/messages", message), ("\(base)/notes", note)] {
                let missing = try await h.post(path, as: h.cw1, json: body)
                #expect(missing.status == 428, "\(path) without If-Match: \(missing.text)")
                #expect(missing.json["code"] as? String == "precondition-required")
                let star = try await h.request("POST", path, token: h.cw1.token, headers: ["If-Match": "*"], json: body)
                #expect(star.status == 428, "\(path) with If-Match *: \(star.text)")
                let stale = try await h.post(path, as: h.cw1, json: body, ifMatch: try await h.version(of: id) + 5)
                #expect(stale.status == 412, "\(path) with a stale version: \(stale.text)")
            }
            #expect(try await h.count("SELECT count(*)::integer FROM messages WHERE application_id = \(id)") == 0)
            #expect(try await h.count("SELECT count(*)::integer FROM application_notes WHERE application_id = \(id)") == 0)
            let star = try await h.request("POST", "\(base)/release", token: h.cw1.token, headers: ["If-Match": "*"])
            #expect(star.status == 428, "release with If-Match *: \(star.text)")
            let version = try await h.version(of: id)
            #expect(try await h.post("\(base)/notes", as: h.cw1, json: note, ifMatch: version).status == 201)
            #expect(try await h.post("\(base)/messages", as: h.cw1, json: message, ifMatch: try await h.version(of: id)).status == 201)
        }
    }
}

/// A thread-safe instant for timing across tasks.
final class SharedInstant: @unchecked Sendable {
    private let lock = NSLock()
    private var value: ContinuousClock.Instant?
    func set(_ instant: ContinuousClock.Instant) { lock.lock(); value = instant; lock.unlock() }
    func get() -> ContinuousClock.Instant? { lock.lock(); defer { lock.unlock() }; return value }
}
