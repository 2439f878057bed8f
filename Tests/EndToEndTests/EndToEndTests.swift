import Foundation
import MailTestSupport
import SystemTestSupport
import TestSupport
import Testing

/// The five executables, the postbox sandbox and aiosmtpd against one PostgreSQL, seeded with the
/// demo (`deploy/seed-demo.sh`) and driven only through their public HTTP APIs.
@Suite("End to end: the whole system", .serialized)
struct EndToEndTests {
    @Test("submit → routed → long-poll → e-mail → claim → question → reply → completed, with every postbox message")
    func applicationLifecycle() async throws {
        try await AmtswegSystem.with { system in
            let scenario = Scenario(system: system)
            let anna = system.demo.annaToken
            let mailbox = UUID().uuidString.lowercased()
            let startTag = try await scenario.inboxETag(token: anna)

            // Submitted by the form server; Erkelenz, postal code 41812 → area Innenstadt (Anna).
            let submitted = try await scenario.submit(key: system.demo.erkelenzIntakeKey, service: "anwohnerparkausweis", mailbox: mailbox)
            let id = submitted["id"]!, reference = submitted["reference"]!
            #expect(reference.hasPrefix("ERK-"))

            // Anna's long-poll wakes with it; Ben (another area) does not see it.
            _ = try await scenario.waitInInboxByLongPoll(id, token: anna, etag: startTag)
            #expect(try await system.inboxClient(token: system.demo.benToken).get("/v1/applications/\(id)").status == 404)
            let assigned = try await scenario.detail(id, token: anna) { $0["status"] as? String == "assigned" }
            #expect((assigned["timeline"] as? [[String: Any]] ?? []).contains { $0["kind"] as? String == "assigned" })

            // Anna is told by e-mail (reference and link only), and the applicant gets RECEIVED.
            let mails = try await scenario.mails(reference: reference)
            #expect(mails.map(\.to) == [["anna.schmitz@erkelenz.example"]])
            #expect(!mails[0].subject.contains("Mustermann"))
            _ = try await scenario.mailbox(mailbox) { Scenario.statuses($0) == ["RECEIVED"] }

            // Claim: in progress; the applicant's postbox shows PROCESSING.
            let claimed = try await scenario.write(id, "claim", token: anna)
            #expect(claimed.status == 200, "\(claimed)")
            _ = try await scenario.mailbox(mailbox) { Scenario.statuses($0) == ["RECEIVED", "PROCESSING"] }

            // A question goes to the postbox; the application waits for the applicant.
            let question = try await scenario.write(id, "messages", token: anna, [
                "kind": "question", "subject": "Fahrzeugschein fehlt", "body": "Bitte laden Sie den Fahrzeugschein hoch.",
            ])
            #expect(question.status == 201, "\(question)")
            let questionID = (question.json["message"] as? [String: Any])?["id"] as? String ?? ""
            let withQuestion = try await scenario.mailbox(mailbox) { box in
                Scenario.messages(box).contains { $0["id"] as? String == questionID }
            }
            #expect(Scenario.statuses(withQuestion).last == "ACTION_REQUIRED")
            _ = try await scenario.detail(id, token: anna) { detail in
                detail["status"] as? String == "awaiting_applicant"
                    && (detail["messages"] as? [[String: Any]] ?? []).contains { $0["id"] as? String == questionID && $0["delivery_state"] as? String == "delivered" }
            }

            // The applicant answers in their postbox; the bridge brings the reply back onto the application.
            let reply = try await system.sandboxClient.post("/sandbox/mailboxes/\(mailbox)/replies", [
                "inReplyTo": questionID, "text": "Anbei der Fahrzeugschein.",
            ])
            #expect(reply.status == 201, "\(reply)")
            let answered = try await scenario.detail(id, token: anna) { detail in
                (detail["messages"] as? [[String: Any]] ?? []).contains { $0["direction"] as? String == "inbound" }
            }
            #expect(answered["status"] as? String == "in_progress")
            // Anna is told of the reply by e-mail too.
            _ = try await scenario.mails(reference: reference, count: 2)

            // Completed: the postbox gets COMPLETED; the intake's status view agrees.
            let completed = try await scenario.write(id, "status", token: anna, ["status": "completed", "outcome": "approved"])
            #expect(completed.status == 200, "\(completed)")
            let final = try await scenario.mailbox(mailbox) { Scenario.statuses($0).last == "COMPLETED" }
            #expect(Scenario.statuses(final) == ["RECEIVED", "PROCESSING", "ACTION_REQUIRED", "PROCESSING", "COMPLETED"])
            #expect(((final["statuses"] as? [[String: Any]]) ?? []).allSatisfy { $0["deliveries"] as? Int == 1 })
            let status = try await system.intakeClient(key: system.demo.erkelenzIntakeKey).get("/v1/applications/\(id)")
            #expect(status["status"] == "completed", "\(status)")

            // Nothing left on any queue.
            #expect(try await remainingJobs(system) == 0)
        }
    }

    @Test("withdrawn by the applicant: the caseworker sees it withdrawn, the postbox is told, writes are refused")
    func withdraw() async throws {
        try await AmtswegSystem.with { system in
            let scenario = Scenario(system: system)
            let anna = system.demo.annaToken
            let mailbox = UUID().uuidString.lowercased()
            let submitted = try await scenario.submit(key: system.demo.erkelenzIntakeKey, service: "anwohnerparkausweis", mailbox: mailbox)
            let id = submitted["id"]!
            _ = try await scenario.detail(id, token: anna) { $0["status"] as? String == "assigned" }

            let withdrawn = try await system.intakeClient(key: system.demo.erkelenzIntakeKey).post("/v1/applications/\(id)/withdraw", ["reason": "Antrag doppelt gestellt"])
            #expect(withdrawn.status == 200, "\(withdrawn)")
            _ = try await scenario.detail(id, token: anna) { $0["status"] as? String == "withdrawn" }
            let claim = try await scenario.write(id, "claim", token: anna)
            #expect(claim.status == 409, "\(claim)")
            #expect(claim.json["code"] as? String == "invalid-transition")
            // The postbox is told: RECEIVED at routing, COMPLETED at the withdrawal.
            _ = try await scenario.mailbox(mailbox) { Scenario.statuses($0) == ["RECEIVED", "COMPLETED"] }
            let again = try await system.intakeClient(key: system.demo.erkelenzIntakeKey).post("/v1/applications/\(id)/withdraw", [:])
            #expect(again.status == 409, "\(again)")
            #expect(again.json["current_state"] as? String == "withdrawn", "\(again)")
            #expect(try await remainingJobs(system) == 0)
        }
    }

    @Test("unroutable: no rule and no fallback area; the admin sees it and forwards it; the area is told")
    func unroutableForwardedByAdmin() async throws {
        try await AmtswegSystem.with { system in
            let scenario = Scenario(system: system)
            let deniz = system.demo.denizAdminToken
            let admin = system.inboxClient(token: deniz)
            // Hückelhoven has no fallback area; a new service without rules takes nothing.
            let service = try await admin.post("/v1/admin/services", ["key": "sondernutzung", "name": "Sondernutzungserlaubnis"])
            #expect(service.status == 201, "\(service)")

            let submitted = try await scenario.submit(key: system.demo.hueckelhovenIntakeKey, service: "sondernutzung", postalCode: "41836")
            let id = submitted["id"]!, reference = submitted["reference"]!
            _ = try await scenario.detail(id, token: deniz) { $0["status"] as? String == "unroutable" }
            let unroutable = try await scenario.adminList("/v1/admin/unroutable", token: deniz)
            #expect(unroutable.contains { $0["id"] as? String == id })

            // The Gewerbeamt is another service's area: refused. The admin sets up an area for the new
            // service (no rules yet) and forwards the application there.
            let areas = try await scenario.adminList("/v1/admin/areas", token: deniz)
            let gewerbeamt = try #require(areas.first { $0["name"] as? String == "Gewerbeamt" }?["id"] as? String)
            let refused = try await scenario.write(id, "forward", token: deniz, ["area_id": gewerbeamt])
            #expect(refused.status == 422, "\(refused)")
            let denizID = try #require(try await system.inboxClient(token: deniz).get("/v1/me").json["id"] as? String)
            let area = try await admin.post("/v1/admin/areas", [
                "name": "Sondernutzungen", "service_id": try #require(service["id"]), "member_ids": [denizID],
            ])
            #expect(area.status == 201, "\(area)")
            let forwarded = try await scenario.write(id, "forward", token: deniz, ["area_id": try #require(area["id"]), "note": "Zuständig: Sondernutzungen"])
            #expect(forwarded.status == 200, "\(forwarded)")
            let detail = try await scenario.detail(id, token: deniz) { $0["status"] as? String == "assigned" }
            #expect((detail["timeline"] as? [[String: Any]] ?? []).contains { $0["kind"] as? String == "forwarded" }, "\(detail["timeline"] ?? "")")
            #expect(try await scenario.adminList("/v1/admin/unroutable", token: deniz).allSatisfy { $0["id"] as? String != id })
            let mails = try await scenario.mails(reference: reference)
            #expect(mails.map(\.to) == [["deniz.yilmaz@hueckelhoven.example"]])
            // Another tenant's admin cannot see it.
            #expect(try await system.inboxClient(token: system.demo.claraAdminToken).get("/v1/applications/\(id)").status == 404)
        }
    }

    @Test("a decision over the back channel is refused while the tenant's policy is off, and delivered once it is on")
    func decisionRefusedByPolicy() async throws {
        try await AmtswegSystem.with { system in
            let scenario = Scenario(system: system)
            let anna = system.demo.annaToken
            let mailbox = UUID().uuidString.lowercased()
            let id = try await scenario.submit(key: system.demo.erkelenzIntakeKey, service: "anwohnerparkausweis", mailbox: mailbox)["id"]!
            _ = try await scenario.detail(id, token: anna) { $0["status"] as? String == "assigned" }
            #expect(try await scenario.write(id, "claim", token: anna).status == 200)
            let decision: [String: any Sendable] = ["kind": "decision", "subject": "Bescheid", "body": "Ihr Antrag wird abgelehnt."]

            let refused = try await scenario.write(id, "messages", token: anna, decision)
            #expect(refused.status == 422, "\(refused)")
            #expect(refused.json["code"] as? String == "decisions-not-allowed")
            #expect(refused.header("Content-Type")?.hasPrefix("application/problem+json") == true)
            #expect((refused.json["detail"] as? String ?? "").isEmpty == false)
            let box = try await scenario.mailbox(mailbox) { Scenario.statuses($0).last == "PROCESSING" }
            #expect(Scenario.messages(box).isEmpty)

            let policy = try await system.inboxClient(token: system.demo.claraAdminToken).call("PATCH", "/v1/admin/tenant", json: ["decisions_via_back_channel": true])
            #expect(policy.status == 200, "\(policy)")
            let sent = try await scenario.write(id, "messages", token: anna, decision)
            #expect(sent.status == 201, "\(sent)")
            _ = try await scenario.mailbox(mailbox) { Scenario.messages($0).contains { $0["title"] as? String == "Bescheid" } }
        }
    }

    @Test("a permanent SMTP failure lands in the dead letters; the admin fixes the address and replays; the e-mail arrives")
    func deadLetterReplayedAfterPermanentFailure() async throws {
        var options = AmtswegSystem.Options()
        options.smtpRejectDomains = ["bounce.example"]
        try await AmtswegSystem.with(options) { system in
            let scenario = Scenario(system: system)
            let deniz = system.demo.denizAdminToken
            let admin = system.inboxClient(token: deniz)
            // A second member of the Gewerbeamt whose address the mail server refuses (550).
            let created = try await admin.post("/v1/admin/caseworkers", ["name": "Emil Vertretung", "email": "emil@bounce.example"])
            #expect(created.status == 201, "\(created)")
            let emil = try #require(created["id"])
            let caseworkers = try await scenario.adminList("/v1/admin/caseworkers", token: deniz)
            let denizID = try #require(caseworkers.first { $0["email"] as? String == "deniz.yilmaz@hueckelhoven.example" }?["id"] as? String)
            let areas = try await scenario.adminList("/v1/admin/areas", token: deniz)
            let gewerbeamt = try #require(areas.first { $0["name"] as? String == "Gewerbeamt" }?["id"] as? String)
            let members = try await admin.call("PUT", "/v1/admin/areas/\(gewerbeamt)/members", json: ["caseworker_ids": [denizID, emil]])
            #expect(members.status == 200, "\(members)")

            let reference = try await scenario.submit(key: system.demo.hueckelhovenIntakeKey, service: "gewerbeanmeldung", postalCode: "41836")["reference"]!
            // Deniz's e-mail arrives; Emil's is refused for good and becomes a dead letter with its reason.
            #expect(try await scenario.mails(reference: reference).map(\.to) == [["deniz.yilmaz@hueckelhoven.example"]])
            var deadLetters: [[String: Any]] = []
            let appeared = try await eventually(timeout: .seconds(20)) {
                deadLetters = try await scenario.adminList("/v1/admin/dead-letters", token: deniz)
                return !deadLetters.isEmpty
            }
            #expect(appeared)
            #expect(deadLetters.count == 1)
            #expect(deadLetters.first?["queue"] as? String == "notify-email", "\(deadLetters)")
            let lastError = "\(deadLetters.first?["last_error"] ?? "")"
            #expect(lastError.contains("550"), "\(deadLetters)")
            // Erkelenz's admin sees none of Hückelhoven's dead letters.
            #expect(try await scenario.adminList("/v1/admin/dead-letters", token: system.demo.claraAdminToken).isEmpty)

            let fixed = try await admin.call("PATCH", "/v1/admin/caseworkers/\(emil)", json: ["email": "emil.vertretung@hueckelhoven.example"])
            #expect(fixed.status == 200, "\(fixed)")
            let ids = deadLetters.compactMap { ($0["id"] as? NSNumber)?.intValue }
            let replayed = try await admin.post("/v1/admin/dead-letters/replay", ["ids": ids])
            #expect(replayed.status == 200, "\(replayed)")
            let mails = try await scenario.mails(reference: reference, count: 2)
            #expect(Set(mails.flatMap(\.to)) == ["deniz.yilmaz@hueckelhoven.example", "emil.vertretung@hueckelhoven.example"])
            #expect(try await scenario.adminList("/v1/admin/dead-letters", token: deniz).isEmpty)
            #expect(try await remainingJobs(system) == 0)
        }
    }
}

/// Jobs still queued or running (dead letters live in their own table).
func remainingJobs(_ system: AmtswegSystem) async throws -> Int {
    var remaining = -1
    _ = try await eventually(timeout: .seconds(20)) {
        remaining = try await system.database.query("SELECT count(*)::int8 AS n FROM queue_jobs").first!.decode("n", as: Int.self)
        return remaining == 0
    }
    return remaining
}
