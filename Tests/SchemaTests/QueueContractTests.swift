import Foundation
import JobQueue
import Postgres
import QueueContracts
import Testing
import TestSupport

/// One payload type per queue: jobs stored in earlier shapes still decode, and the rows that
/// single statements build in SQL are exactly what the Swift types write.
@Suite struct QueueContractTests {
    func decode<C: QueueContract>(_ json: String, as type: C.Type) throws -> C {
        try JSONDecoder().decode(C.self, from: Data(json.utf8))
    }

    @Test func everyEarlierShapeOfNotifyEmailStillDecodes() throws {
        let app = "6c3f1c2e-8f7e-4b7d-9a51-1f0f7c1d2e3f", cw = "0b8e7a61-2c5d-4e3f-8a9b-7c6d5e4f3a2b", msg = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
        // Routing, forward and replies: {kind, application_id, caseworker_id}.
        for kind in ["new_application", "applicant_replied"] {
            let job = try decode(#"{"application_id":"\#(app)","caseworker_id":"\#(cw)","kind":"\#(kind)"}"#, as: NotifyEmailJob.self)
            #expect(job.kind.rawValue == kind && job.caseworkerID == UUID(uuidString: cw) && job.messageID == nil)
        }
        // The bridge's failed delivery, with message_id.
        let failed = try decode(#"{"application_id":"\#(app)","caseworker_id":"\#(cw)","kind":"delivery_failed","message_id":"\#(msg)"}"#,
                                as: NotifyEmailJob.self)
        #expect(failed.kind == .deliveryFailed && failed.messageID == UUID(uuidString: msg))
        #expect(throws: DecodingError.self) { try decode(#"{"kind":"nonsense","application_id":"\#(app)"}"#, as: NotifyEmailJob.self) }
    }

    @Test func earlierRouteOutboxAndReplyShapesStillDecode() throws {
        let id = "6c3f1c2e-8f7e-4b7d-9a51-1f0f7c1d2e3f"
        #expect(try decode(#"{"application_id":"\#(id)"}"#, as: RouteJob.self).applicationID == id)
        #expect(try decode(#"{"message_id":"\#(id)"}"#, as: CitizenOutboxJob.self).messageID == id)
        // A reply queued before text_truncated, attachment_ids and rejected_attachments existed.
        let reply = try decode(#"{"reply_id":"R-1","mailbox_id":"m","application_id":"\#(id)","in_reply_to":null,"text":"Hallo","received_at":"2026-11-01T10:00:00Z"}"#,
                               as: CitizenReplyPayload.self)
        #expect(reply.text_truncated == false && reply.attachment_ids.isEmpty && reply.rejected_attachments.isEmpty)
        #expect(reply.dedupeKey == "R-1")
    }

    @Test func payloadsAndKeysBuiltInSQLEqualTheSwiftTypes() async throws {
        let db = try await TestDatabase.make()
        let tenant = UUID(), application = UUID(), caseworker = UUID(), message = UUID()
        let rows = try await db.pool.query("""
            WITH recipients AS (SELECT \(tenant)::uuid AS tenant_id, \(application)::uuid AS application_id, \(caseworker)::uuid AS caseworker_id),
                 status_message AS (SELECT \(tenant)::uuid AS tenant_id, \(message)::uuid AS id),
                 email AS (\(fragment: NotifyEmailJob.newApplicationRows)),
                 outbox AS (\(fragment: CitizenOutboxJob.rowsForStatusMessage))
            SELECT e.payload::text AS email_payload, e.key AS email_key, o.payload::text AS outbox_payload, o.key AS outbox_key
            FROM email AS e(tenant_id, payload, key), outbox AS o(tenant_id, payload, key)
            """)
        let row = try #require(rows.first)
        let email = NotifyEmailJob(kind: .newApplication, applicationID: application, caseworkerID: caseworker)
        #expect(try decode(try row.decode("email_payload"), as: NotifyEmailJob.self) == email)
        #expect(try row.decode("email_key", as: String.self) == email.dedupeKey)
        let outbox = CitizenOutboxJob(messageID: message)
        #expect(try decode(try row.decode("outbox_payload"), as: CitizenOutboxJob.self) == outbox)
        #expect(try row.decode("outbox_key", as: String.self) == outbox.dedupeKey)
        // And what Swift writes is lowercase ids, as the SQL rows are.
        let encoded = String(decoding: try JSONEncoder().encode(email), as: UTF8.self)
        #expect(encoded.contains(application.uuidString.lowercased()) && !encoded.contains(application.uuidString))
    }
}
