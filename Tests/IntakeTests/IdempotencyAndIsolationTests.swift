import Domain
@testable import IntakeService
import Foundation
import HTTPServer
import Testing
import TestSupport

@Suite struct IdempotencyAndIsolationTests {
    @Test func sameKeySameBodyReplaysTheFirstAnswer() async throws {
        let h = try await IntakeHarness.make()
        let first = try await h.post(IntakeHarness.validBody(), idempotencyKey: "order-4711")
        #expect(first.status == 201)
        #expect(first.headers["Idempotent-Replayed"] == nil)
        let again = try await h.post(IntakeHarness.validBody(), idempotencyKey: "order-4711")
        #expect(again.status == 201)
        #expect(again.body == first.body)
        #expect(again.headers["Location"] == first.headers["Location"])
        #expect(again.headers["Idempotent-Replayed"] == "true")
        #expect(try await h.db.scalar("SELECT count(*)::int FROM applications", as: Int.self) == 1)
        #expect(try await h.db.scalar("SELECT count(*)::int FROM queue_jobs", as: Int.self) == 1)
        #expect(try await h.db.scalar("SELECT count(*)::int FROM intake_idempotency_keys WHERE expires_at >= created_at + interval '24 hours'", as: Int.self) == 1)

        // A different body with the same key is refused and stores nothing.
        let before = try await h.footprint()
        let reused = try await h.post(IntakeHarness.validBody(name: "Someone Else"), idempotencyKey: "order-4711")
        #expect(reused.status == 422)
        #expect(reused.json["code"] as? String == "idempotency-key-reused")
        #expect(try await h.footprint() == before)

        // Keys are per client: another tenant's client may use the same key.
        let other = try await h.post(IntakeHarness.validBody(), key: h.keyB, idempotencyKey: "order-4711")
        #expect(other.status == 201)
        #expect(other.json["id"] as? String != first.json["id"] as? String)
        // Without a key, the same body makes a second application.
        #expect(try await h.post(IntakeHarness.validBody()).status == 201)
        #expect(try await h.db.scalar("SELECT count(*)::int FROM applications WHERE tenant_id = \(h.tenantA)", as: Int.self) == 2)
    }

    @Test func expiredKeysArePrunedAndThenFree() async throws {
        let h = try await IntakeHarness.make()
        let first = try await h.post(IntakeHarness.validBody(), idempotencyKey: "old")
        #expect(first.status == 201)
        // Not yet expired: nothing pruned.
        #expect(try await IdempotencyKeyPruner(pool: h.db.pool, logger: h.db.logger).pruneOnce() == 0)
        try await h.db.pool.query("UPDATE intake_idempotency_keys SET created_at = now() - interval '25 hours', expires_at = now() - interval '1 hour'")
        // Expired but not yet pruned: the key is free already.
        let reused = try await h.post(IntakeHarness.validBody(name: "Third"), idempotencyKey: "old")
        #expect(reused.status == 201, "\(reused.text)")
        #expect(reused.json["id"] as? String != first.json["id"] as? String)
        try await h.db.pool.query("UPDATE intake_idempotency_keys SET created_at = now() - interval '25 hours', expires_at = now() - interval '1 hour'")
        #expect(try await IdempotencyKeyPruner(pool: h.db.pool, logger: h.db.logger).pruneOnce() == 1)
        // The key may now name a new application.
        let second = try await h.post(IntakeHarness.validBody(name: "Another"), idempotencyKey: "old")
        #expect(second.status == 201)
        #expect(second.json["id"] as? String != first.json["id"] as? String)
    }

    @Test func concurrentPostsWithTheSameKeyCreateOneApplication() async throws {
        let h = try await IntakeHarness.make(maxConnections: 16)
        for round in 0..<3 {
            let key = "concurrent-\(round)"
            let responses = try await withThrowingTaskGroup(of: IntakeHarness.Response.self) { group in
                for _ in 0..<8 { group.addTask { try await h.post(IntakeHarness.validBody(), idempotencyKey: key) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(responses.allSatisfy { $0.status == 201 }, "\(responses.map { "\($0.status) \($0.text)" })")
            #expect(Set(responses.compactMap { $0.json["id"] as? String }).count == 1)
            #expect(Set(responses.map(\.body)).count == 1)
        }
        #expect(try await h.db.scalar("SELECT count(*)::int FROM applications", as: Int.self) == 3)
        #expect(try await h.db.scalar("SELECT count(*)::int FROM queue_jobs WHERE queue = 'route'", as: Int.self) == 3)
        #expect(try await h.db.scalar("SELECT count(*)::int FROM attachments", as: Int.self) == 3)
    }

    @Test func anotherTenantsApplicationIsNotFound() async throws {
        let h = try await IntakeHarness.make()
        let created = try await h.post(IntakeHarness.validBody())
        let id = try #require(created.json["id"] as? String)

        let own = await h.send(.get, "/v1/applications/\(id)", key: h.keyA)
        #expect(own.status == 200)
        #expect(own.json["reference"] as? String == created.json["reference"] as? String)
        #expect(own.json["status"] as? String == "received")
        #expect(own.json["postbox_status"] as? String == "RECEIVED")
        let timeline = own.json["timeline"] as? [[String: Any]] ?? []
        #expect(timeline.map { $0["kind"] as? String } == ["received"])
        // Nothing personal in the status resource.
        #expect(!own.text.contains("Erika") && !own.text.contains("erika@"))

        let read = await h.send(.get, "/v1/applications/\(id)", key: h.keyB)
        #expect(read.status == 404)
        let withdraw = await h.send(.post, "/v1/applications/\(id)/withdraw", key: h.keyB)
        #expect(withdraw.status == 404)
        #expect(read.json["code"] as? String == withdraw.json["code"] as? String)
        // Same answer as for an id that does not exist at all, and for a malformed one.
        let missing = await h.send(.get, "/v1/applications/\(UUID().uuidString.lowercased())", key: h.keyB)
        #expect(missing.status == 404 && missing.json["code"] as? String == read.json["code"] as? String)
        #expect(await h.send(.get, "/v1/applications/not-a-uuid", key: h.keyB).status == 404)
        #expect(await h.send(.get, "/v1/applications/\(id)", key: nil).status == 401)
        #expect(try await h.db.scalar("SELECT status FROM applications", as: String.self) == "received")
    }

    @Test func withdrawFromAnyOpenStateOnlyOnce() async throws {
        let h = try await IntakeHarness.make()
        let created = try await h.post(IntakeHarness.validBody())
        let id = try #require(created.json["id"] as? String)
        let response = await h.send(.post, "/v1/applications/\(id)/withdraw", key: h.keyA)
        #expect(response.status == 200, "\(response.text)")
        #expect(response.json["status"] as? String == "withdrawn")
        #expect(response.json["postbox_status"] as? String == "COMPLETED")
        #expect((response.json["timeline"] as? [[String: Any]])?.map { $0["kind"] as? String } == ["received", "withdrawn"])
        let again = await h.send(.post, "/v1/applications/\(id)/withdraw", key: h.keyA)
        #expect(again.status == 409)
        #expect(again.json["current_state"] as? String == "withdrawn")
        #expect(try await h.db.scalar("SELECT count(*)::int FROM audit_log WHERE action = 'application.withdraw'", as: Int.self) == 1)
        // The applicant has a postbox: a status message is queued for the back channel.
        #expect(try await h.db.scalar("SELECT count(*)::int FROM messages WHERE kind = 'status' AND postbox_status = 'COMPLETED' AND delivery_state = 'queued'", as: Int.self) == 1)
        #expect(try await h.db.scalar("SELECT count(*)::int FROM queue_jobs WHERE queue = 'citizen-outbox'", as: Int.self) == 1)

        // The withdrawal's status message comes from the tenant's template when it has one.
        try await h.db.pool.query("""
            INSERT INTO notification_templates (tenant_id, kind, subject, body)
            VALUES (\(h.tenantA), 'citizen.status.withdrawn', 'Zurückgezogen: {{reference}}', 'Ihr Antrag zu {{service}} ist zurückgezogen.')
            """)
        let templated = try await h.post(IntakeHarness.validBody())
        let templatedID = try #require(templated.json["id"] as? String)
        #expect(await h.send(.post, "/v1/applications/\(templatedID)/withdraw", key: h.keyA).status == 200)
        let subject = try await h.db.scalar("""
            SELECT subject FROM messages WHERE application_id = \(UUID(uuidString: templatedID)!) AND postbox_status = 'COMPLETED'
            """, as: String.self)
        #expect(subject == "Zurückgezogen: " + (templated.json["reference"] as? String ?? "?"))
        try await h.db.pool.query("DELETE FROM notification_templates")

        // From the other open states too (set by hand as routing and inbox would).
        for state in ["assigned", "in_progress", "awaiting_applicant", "unroutable"] {
            let other = try await h.post(["service": "parking", "applicant": ["name": "Max"], "form": [:]])
            let otherID = try #require(UUID(uuidString: other.json["id"] as? String ?? ""))
            let area = try await h.db.scalar("""
                INSERT INTO responsibility_areas (tenant_id, service_id, name) SELECT tenant_id, service_id, \(state) FROM applications WHERE id = \(otherID) RETURNING id
                """, as: UUID.self)
            let worker = try await h.db.scalar("""
                INSERT INTO caseworkers (tenant_id, name, email) VALUES (\(h.tenantA), 'W', \(state + "@erkelenz.de")) RETURNING id
                """, as: UUID.self)
            let claimed = state == "in_progress" || state == "awaiting_applicant"
            try await h.db.pool.query("""
                UPDATE applications SET status = \(state), area_id = CASE WHEN \(state)::text = 'unroutable' THEN NULL ELSE \(area)::uuid END,
                       claimed_by = CASE WHEN \(claimed)::boolean THEN \(worker)::uuid END WHERE id = \(otherID)
                """)
            let withdrawn = await h.send(.post, "/v1/applications/\(otherID.uuidString)/withdraw", key: h.keyA)
            #expect(withdrawn.status == 200, "\(state): \(withdrawn.text)")
        }
        // Completed is not open.
        try await h.db.pool.query("""
            UPDATE applications SET status = 'completed', outcome = 'approved', closed_at = now(),
                   area_id = (SELECT id FROM responsibility_areas LIMIT 1) WHERE status = 'withdrawn' AND reference LIKE '%000002'
            """)
        let completedID = try await h.db.scalar("SELECT id FROM applications WHERE status = 'completed'", as: UUID.self)
        let refused = await h.send(.post, "/v1/applications/\(completedID.uuidString)/withdraw", key: h.keyA)
        #expect(refused.status == 409)
        #expect(refused.json["current_state"] as? String == "completed")
    }

    @Test func referencesAreUniqueUnderEightConcurrentPosters() async throws {
        for blockSize in [1, 10] {
            let h = try await IntakeHarness.make(maxConnections: 16, referenceBlockSize: blockSize)
            let perPoster = 25
            let references = try await withThrowingTaskGroup(of: [String].self) { group in
                for poster in 0..<8 {
                    group.addTask {
                        var mine: [String] = []
                        for index in 0..<perPoster {
                            // Every fifth request of a poster is rejected after its number was drawn
                            // (inactive service): those numbers become gaps.
                            let service = index % 5 == 4 ? "closed" : "parking"
                            let response = try await h.post(IntakeHarness.validBody(service: service, name: "Poster \(poster)"))
                            if let reference = response.json["reference"] as? String { mine.append(reference) }
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(references.count == 8 * 20)
            #expect(Set(references).count == references.count, "duplicate references with block size \(blockSize)")
            #expect(references.allSatisfy { $0.range(of: #"^ERK-\d{4}-\d{6}$"#, options: .regularExpression) != nil })
            let stored = try await h.db.scalar("SELECT count(DISTINCT reference)::int FROM applications", as: Int.self)
            #expect(stored == 160)
            // Gap-tolerant: numbers only grow, and no more were drawn than requests made.
            let maxNumber = try await h.db.scalar("SELECT max(split_part(reference, '-', 3)::int) FROM applications", as: Int.self)
            #expect(maxNumber >= 160 && maxNumber <= 200 + 8 * (blockSize - 1), "block size \(blockSize): highest number \(maxNumber)")
        }
    }
}
