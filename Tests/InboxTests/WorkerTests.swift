import Domain
import Foundation
@testable import InboxService
import JobQueue
import Logging
import Postgres
import QueueContracts
import Testing
import TestSupport

@Suite("Inbox workers: citizen replies and retention", .serialized)
struct WorkerTests {
    func reply(_ application: UUID, inReplyTo: String?, externalID: String, text: String = "Anbei die Unterlagen.") -> CitizenReplyPayload {
        CitizenReplyPayload(reply_id: externalID, mailbox_id: UUID().uuidString.lowercased(), application_id: application.uuidString.lowercased(),
                            in_reply_to: inReplyTo, text: text, received_at: "2026-11-23T12:00:00Z")
    }

    @Test("a citizen reply is stored once, resumes the application and e-mails the holder")
    func citizenReply() async throws {
        try await InboxHarness.with { h in
            let id = try await h.makeApplication(area: h.north, status: "in_progress", claimedBy: h.cw1.id)
            let asked = try await h.post("/v1/applications/\(id.uuidString.lowercased())/messages", as: h.cw1,
                                         json: ["kind": "question", "subject": "Rückfrage", "body": "Bitte Fahrzeugschein nachreichen."],
                                         ifMatch: try await h.version(of: id))
            #expect(asked.status == 201)
            let question = try #require((asked.json["message"] as? [String: Any])?["id"] as? String)
            #expect(try await h.status(of: id) == "awaiting_applicant")

            let consumer = ReplyHandler.consumer(pool: h.db.pool, queue: h.queue, listener: h.listener, concurrency: 1, logger: h.db.logger, metrics: nil)
            let running = Task { await consumer.run() }
            defer { consumer.stop(); running.cancel() }
            try await h.queue.enqueue(try NewJob(queue: .citizenReply, payload: reply(id, inReplyTo: question, externalID: "R-1"), tenantID: h.tenantA))
            // The same reply delivered twice (at-least-once bridge) is stored once.
            try await h.queue.enqueue(try NewJob(queue: .citizenReply, payload: reply(id, inReplyTo: question, externalID: "R-1"), tenantID: h.tenantA))
            #expect(try await eventually { try await h.count("SELECT count(*)::integer FROM queue_jobs WHERE queue = 'citizen-reply'") == 0 })
            #expect(try await h.count("SELECT count(*)::integer FROM messages WHERE application_id = \(id) AND direction = 'inbound'") == 1)
            #expect(try await h.db.scalar("SELECT in_reply_to::text FROM messages WHERE direction = 'inbound'", as: String.self) == question)
            #expect(try await h.status(of: id) == "in_progress")
            #expect(try await h.count("SELECT count(*)::integer FROM timeline_events WHERE application_id = \(id) AND kind = 'reply_received'") == 1)
            let mails = try await h.db.pool.query("""
                SELECT payload->>'caseworker_id' AS cw FROM queue_jobs WHERE queue = 'notify-email' AND payload->>'kind' = 'applicant_replied'
                """).map { try $0.decode("cw", as: String.self) }
            #expect(mails == [h.cw1.id.uuidString.lowercased()])
            #expect(try await h.count("SELECT count(*)::integer FROM queue_dead_letters") == 0)

            // A reply to an unclaimed application goes to the area's members; a reply for another
            // tenant's application is a dead letter.
            let open = try await h.makeApplication(area: h.north)
            try await h.queue.enqueue(try NewJob(queue: .citizenReply, payload: reply(open, inReplyTo: nil, externalID: "R-2"), tenantID: h.tenantA))
            try await h.queue.enqueue(try NewJob(queue: .citizenReply, payload: reply(open, inReplyTo: nil, externalID: "R-3"), tenantID: h.tenantB))
            #expect(try await eventually { try await h.count("SELECT count(*)::integer FROM queue_dead_letters") == 1 })
            #expect(try await eventually {
                try await h.count("SELECT count(*)::integer FROM queue_jobs WHERE queue = 'notify-email' AND payload->>'application_id' = \(open.uuidString.lowercased())") == 2
            })
            #expect(try await h.status(of: open) == "assigned")
        }
    }

    @Test("a reply whose text was cut or whose files the bridge refused says so on the message and the timeline")
    func refusedReplyPartsAreVisible() async throws {
        try await InboxHarness.with { h in
            let id = try await h.makeApplication(area: h.north, status: "in_progress", claimedBy: h.cw1.id)
            let consumer = ReplyHandler.consumer(pool: h.db.pool, queue: h.queue, listener: h.listener, concurrency: 1, logger: h.db.logger, metrics: nil)
            let running = Task { await consumer.run() }
            defer { consumer.stop(); running.cancel() }
            var payload = reply(id, inReplyTo: nil, externalID: "R-cut")
            payload.text_truncated = true
            payload.rejected_attachments = [.init(filename: "Scan.pdf", reason: "checksum does not match")]
            try await h.queue.enqueue(try NewJob(queue: .citizenReply, payload: payload, tenantID: h.tenantA))
            #expect(try await eventually { try await h.count("SELECT count(*)::integer FROM queue_jobs WHERE queue = 'citizen-reply'") == 0 })
            #expect(try await h.count("SELECT count(*)::integer FROM queue_dead_letters") == 0)
            let detail = try await h.get("/v1/applications/\(id.uuidString.lowercased())", as: h.cw1)
            let messages = detail.json["messages"] as? [[String: Any]] ?? []
            let inbound = try #require(messages.first { $0["direction"] as? String == "inbound" })
            #expect(inbound["text_truncated"] as? Bool == true)
            let rejected = inbound["rejected_attachments"] as? [[String: Any]] ?? []
            #expect(rejected.count == 1)
            #expect(rejected.first?["filename"] as? String == "Scan.pdf")
            #expect(rejected.first?["reason"] as? String == "checksum does not match")
            let timeline = detail.json["timeline"] as? [[String: Any]] ?? []
            let event = try #require(timeline.first { $0["kind"] as? String == "reply_received" })
            let data = event["data"] as? [String: Any] ?? [:]
            #expect(data["text_truncated"] as? Bool == true)
            #expect(data["rejected_attachments"] as? Int == 1)
        }
    }

    @Test("retention also deletes the application's queued and dead-lettered reply payloads, and says so in the audit log")
    func retentionClearsQueuePayloads() async throws {
        try await InboxHarness.with { h in
            let old = try await h.makeApplication(area: h.north, status: "completed", claimedBy: h.cw1.id)
            let other = try await h.makeApplication(area: h.north, status: "completed", claimedBy: h.cw1.id)
            try await h.db.pool.query("UPDATE applications SET closed_at = now() - interval '400 days' WHERE id = \(old)")
            // A reply still queued (far in the future) and one dead letter, both naming the old application.
            try await h.queue.enqueue(try NewJob(queue: .citizenReply, payload: reply(old, inReplyTo: nil, externalID: "R-late", text: "Erika schreibt"),
                                                 tenantID: h.tenantA, delay: .seconds(3600)))
            try await h.db.pool.query("""
                INSERT INTO queue_dead_letters (job_id, queue, tenant_id, payload, priority, attempts, max_attempts, last_error, created_at)
                VALUES (4711, 'citizen-reply', \(h.tenantA), jsonb_build_object('reply_id', 'R-dead', 'application_id', \(old.uuidString.lowercased())::text,
                        'mailbox_id', 'm', 'text', 'Erika schreibt', 'received_at', '2026-01-01T00:00:00Z'), 0, 5, 5, 'gave up', now())
                """)
            try await h.queue.enqueue(try NewJob(queue: .citizenReply, payload: reply(other, inReplyTo: nil, externalID: "R-keep"),
                                                 tenantID: h.tenantA, delay: .seconds(3600)))
            #expect(try await Retention(pool: h.db.pool, logger: h.db.logger).runIfDue() == 1)
            #expect(try await h.count("SELECT count(*)::integer FROM queue_jobs WHERE payload->>'application_id' = \(old.uuidString.lowercased())") == 0)
            #expect(try await h.count("SELECT count(*)::integer FROM queue_dead_letters WHERE payload->>'application_id' = \(old.uuidString.lowercased())") == 0)
            #expect(try await h.count("SELECT count(*)::integer FROM queue_jobs WHERE payload::text LIKE '%Erika%'") == 0)
            #expect(try await h.count("SELECT count(*)::integer FROM queue_dead_letters WHERE payload::text LIKE '%Erika%'") == 0)
            #expect(try await h.count("SELECT count(*)::integer FROM queue_jobs WHERE payload->>'application_id' = \(other.uuidString.lowercased())") == 1)
            let details = try await h.db.scalar("""
                SELECT details::text FROM audit_log WHERE application_id = \(old) AND action = 'application.personal_data_delete'
                """, as: String.self)
            #expect(details.contains("\"queue_jobs\": 1"))
            #expect(details.contains("\"dead_letters\": 1"))
        }
    }

    @Test("retention removes personal data of long-closed applications and keeps the audit trail; one run a day")
    func retention() async throws {
        try await InboxHarness.with { h in
            let old = try await h.makeApplication(area: h.north, status: "in_progress", claimedBy: h.cw1.id)
            let recent = try await h.makeApplication(area: h.north, status: "in_progress", claimedBy: h.cw1.id)
            for id in [old, recent] {
                let base = "/v1/applications/\(id.uuidString.lowercased())"
                #expect(try await h.post("\(base)/notes", as: h.cw1, json: ["body": "Telefonat mit Frau Mustermann"],
                                         ifMatch: try await h.version(of: id)).status == 201)
                #expect(try await h.post("\(base)/messages", as: h.cw1, json: ["kind": "information", "subject": "Info", "body": "Text an Erika"],
                                         ifMatch: try await h.version(of: id)).status == 201)
                let version = try await h.version(of: id)
                #expect(try await h.post("\(base)/status", as: h.cw1, json: ["status": "completed", "outcome": "approved"], ifMatch: version).status == 200)
                #expect(try await h.get(base, as: h.cw1).status == 200)
            }
            try await h.db.pool.query("UPDATE applications SET closed_at = now() - interval '400 days' WHERE id = \(old)")
            let auditBefore = try await h.count("SELECT count(*)::integer FROM audit_log WHERE application_id = \(old)")

            let retention = Retention(pool: h.db.pool, logger: h.db.logger)
            #expect(try await retention.runIfDue() == 1)
            #expect(try await retention.runIfDue() == nil, "not due again the same day")

            let row = try await h.db.pool.query("""
                SELECT applicant IS NULL AS a, form IS NULL AS f, postbox_mailbox_id IS NULL AS p, personal_data_deleted_at IS NOT NULL AS d,
                       reference, status, outcome FROM applications WHERE id = \(old)
                """)[0]
            #expect(try row.decode("a", as: Bool.self) && row.decode("f", as: Bool.self) && row.decode("p", as: Bool.self) && row.decode("d", as: Bool.self))
            #expect(try row.decode("status", as: String.self) == "completed")
            #expect(try row.decode("outcome", as: String.self) == "approved")
            #expect(try await h.count("SELECT count(*)::integer FROM attachments WHERE application_id = \(old) AND content IS NOT NULL") == 0)
            #expect(try await h.count("SELECT count(*)::integer FROM attachments WHERE application_id = \(old) AND filename LIKE '%Müller%'") == 0)
            #expect(try await h.count("SELECT count(*)::integer FROM messages WHERE application_id = \(old) AND (body IS NOT NULL OR subject IS NOT NULL)") == 0)
            #expect(try await h.count("SELECT count(*)::integer FROM application_notes WHERE application_id = \(old) AND body IS NOT NULL") == 0)
            #expect(try await h.count("SELECT count(*)::integer FROM timeline_events WHERE application_id = \(old) AND kind = 'completed'") == 1)
            // The audit trail is all still there, plus the deletion.
            #expect(try await h.count("SELECT count(*)::integer FROM audit_log WHERE application_id = \(old)") == auditBefore + 1)
            #expect(try await h.count("SELECT count(*)::integer FROM audit_log WHERE application_id = \(old) AND action = 'application.personal_data_delete'") == 1)
            // No personal data anywhere in the audit log.
            #expect(try await h.count("SELECT count(*)::integer FROM audit_log WHERE details::text ILIKE '%Mustermann%' OR details::text ILIKE '%Erika%'") == 0)
            // The recent one is untouched.
            #expect(try await h.count("SELECT count(*)::integer FROM applications WHERE id = \(recent) AND applicant IS NOT NULL") == 1)

            // The API shows the deletion and the attachment is gone.
            let detail = try await h.get("/v1/applications/\(old.uuidString.lowercased())", as: h.cw1)
            #expect(detail.json["applicant"] is NSNull)
            let attachment = try await h.attachmentID(of: old)
            #expect(try await h.get("/v1/applications/\(old.uuidString.lowercased())/attachments/\(attachment.uuidString.lowercased())", as: h.cw1).status == 410)

            // Two replicas at once: one runs, the other does not.
            try await h.db.pool.query("UPDATE maintenance_runs SET last_started_at = now() - interval '2 days'")
            async let a = retention.runIfDue()
            async let b = Retention(pool: h.db.pool, logger: h.db.logger).runIfDue()
            let results = try await [a, b]
            #expect(results.filter { $0 != nil }.count == 1)
        }
    }
}
