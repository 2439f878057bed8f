import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Inbox back channel rules", .serialized)
struct MessageRuleTests {
    static let pdf = Data("%PDF-1.7 Bescheid".utf8).base64EncodedString()

    func message(_ kind: String, attachments: Bool = false) -> [String: Any] {
        var body: [String: Any] = ["kind": kind, "subject": "Ihr Antrag", "body": "Guten Tag, …"]
        if attachments { body["attachments"] = [["filename": "Bescheid.pdf", "content_type": "application/pdf", "content_base64": Self.pdf]] }
        return body
    }

    func path(_ id: UUID) -> String { "/v1/applications/\(id.uuidString.lowercased())/messages" }

    @Test("decision refused while the tenant's policy is off, allowed once it is on")
    func decisionPolicy() async throws {
        try await InboxHarness.with { h in
            let id = try await h.makeApplication(area: h.north, status: "in_progress", claimedBy: h.cw1.id)
            let refused = try await h.post(path(id), as: h.cw1, json: message("decision"), ifMatch: try await h.version(of: id))
            #expect(refused.status == 422)
            #expect(refused.code == "decisions-not-allowed")
            #expect(try await h.count("SELECT count(*)::integer FROM messages WHERE application_id = \(id)") == 0)
            try await h.db.pool.query("UPDATE tenants SET decisions_via_back_channel = true WHERE id = \(h.tenantA)")
            let sent = try await h.post(path(id), as: h.cw1, json: message("decision"), ifMatch: try await h.version(of: id))
            #expect(sent.status == 201)
        }
    }

    @Test("document without consent refused; trust level below the service's refused; with both it is queued with its attachment")
    func documentRules() async throws {
        try await InboxHarness.with { h in
            let noConsent = try await h.makeApplication(area: h.north, status: "in_progress", claimedBy: h.cw1.id,
                                                        postbox: .init(trust: "high", consent: false))
            let refused = try await h.post(path(noConsent), as: h.cw1, json: message("document", attachments: true), ifMatch: try await h.version(of: noConsent))
            #expect(refused.status == 422)
            #expect(refused.code == "document-consent-missing")

            let lowTrust = try await h.makeApplication(area: h.north, status: "in_progress", claimedBy: h.cw1.id,
                                                       postbox: .init(trust: "basic", consent: true))
            let tooLow = try await h.post(path(lowTrust), as: h.cw1, json: message("document", attachments: true), ifMatch: try await h.version(of: lowTrust))
            #expect(tooLow.status == 422)
            #expect(tooLow.code == "trust-level-too-low")

            let fine = try await h.makeApplication(area: h.north, status: "in_progress", claimedBy: h.cw1.id,
                                                   postbox: .init(trust: "substantial", consent: true))
            #expect(try await h.post(path(fine), as: h.cw1, json: message("document"), ifMatch: try await h.version(of: fine)).status == 422, "a document needs attachments")
            let sent = try await h.post(path(fine), as: h.cw1, json: message("document", attachments: true), ifMatch: try await h.version(of: fine))
            #expect(sent.status == 201)
            let messageID = try #require((sent.json["message"] as? [String: Any])?["id"] as? String)
            #expect(try await h.count("SELECT count(*)::integer FROM message_attachments WHERE message_id = \(UUID(uuidString: messageID)!)") == 1)
            #expect(try await h.count("SELECT count(*)::integer FROM attachments WHERE application_id = \(fine) AND origin = 'caseworker'") == 1)
        }
    }

    @Test("no postbox refused for every kind; nothing is stored")
    func noPostbox() async throws {
        try await InboxHarness.with { h in
            let id = try await h.makeApplication(area: h.north, status: "in_progress", claimedBy: h.cw1.id, postbox: nil)
            for kind in ["question", "information", "decision"] {
                let response = try await h.post(path(id), as: h.cw1, json: message(kind), ifMatch: try await h.version(of: id))
                #expect(response.status == 422)
                #expect(response.code == "no-postbox")
            }
            #expect(try await h.count("SELECT count(*)::integer FROM messages") == 0)
            #expect(try await h.count("SELECT count(*)::integer FROM queue_jobs WHERE queue = 'citizen-outbox'") == 0)
        }
    }

    @Test("a question is queued on citizen-outbox, moves the application to awaiting_applicant and shows its delivery state")
    func question() async throws {
        try await InboxHarness.with { h in
            let id = try await h.makeApplication(area: h.north, status: "in_progress", claimedBy: h.cw1.id)
            #expect(try await h.post(path(id), as: h.cw2, json: message("question"), ifMatch: try await h.version(of: id)).status == 409, "only the holder writes")
            let sent = try await h.post(path(id), as: h.cw1, json: message("question"), ifMatch: try await h.version(of: id))
            #expect(sent.status == 201)
            #expect((sent.json["application"] as? [String: Any])?["status"] as? String == "awaiting_applicant")
            let messageID = try #require((sent.json["message"] as? [String: Any])?["id"] as? String)
            let jobs = try await h.db.pool.query("""
                SELECT payload::text AS payload FROM queue_jobs WHERE queue = 'citizen-outbox' AND tenant_id = \(h.tenantA) ORDER BY id
                """).map { try $0.decode("payload", as: String.self) }
            #expect(jobs.contains { $0.replacingOccurrences(of: " ", with: "") == "{\"message_id\":\"\(messageID)\"}" })
            let again = try await h.post(path(id), as: h.cw1, json: message("question"), ifMatch: try await h.version(of: id))
            #expect(again.status == 409, "a question is already open")

            let detail = try await h.get("/v1/applications/\(id.uuidString.lowercased())", as: h.cw1)
            let messages = detail.json["messages"] as? [[String: Any]] ?? []
            let question = try #require(messages.first { $0["id"] as? String == messageID })
            #expect(question["delivery_state"] as? String == "queued")
            #expect(question["kind"] as? String == "question")
            #expect(try await h.count("SELECT count(*)::integer FROM audit_log WHERE action = 'message.send' AND application_id = \(id)") == 1)
            #expect(try await h.post(path(id), as: h.cw1, json: ["kind": "status", "subject": "x", "body": "y"]).status == 422)
        }
    }
}
