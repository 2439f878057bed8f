import Domain
import Foundation
import JobQueue
import Postgres
import Testing
import TestSupport

@Suite("Inbox admin API", .serialized)
struct AdminAPITests {
    @Test("services, areas with rules validated at save time, members, caseworkers with roles")
    func structure() async throws {
        try await InboxHarness.with { h in
            let service = try await h.request("POST", "/v1/admin/services", token: h.adminA.token,
                                              json: ["key": "dogs", "name": "Hundesteuer", "retention_days": 30, "document_trust_level": "high"])
            #expect(service.status == 201)
            let serviceID = try #require(service.json["id"] as? String)
            #expect(try await h.request("POST", "/v1/admin/services", token: h.adminA.token, json: ["key": "dogs", "name": "x"]).status == 409)
            #expect(try await h.request("POST", "/v1/admin/services", token: h.adminA.token, json: ["key": "Dogs!", "name": "x"]).status == 422)
            let deactivated = try await h.request("PATCH", "/v1/admin/services/\(serviceID)", token: h.adminA.token, json: ["active": false])
            #expect(deactivated.json["active"] as? Bool == false)

            let caseworker = try await h.request("POST", "/v1/admin/caseworkers", token: h.adminA.token,
                                                 json: ["name": "Gerd Hund", "email": "gerd@example.de", "email_notifications": false])
            #expect(caseworker.status == 201)
            let cwID = try #require(caseworker.json["id"] as? String)
            #expect(caseworker.json["roles"] as? [String] == ["caseworker"])
            #expect(try await h.request("POST", "/v1/admin/caseworkers", token: h.adminA.token, json: ["name": "x", "email": "no-at"]).status == 422)
            let nul = try await h.request("POST", "/v1/admin/caseworkers", token: h.adminA.token, json: ["name": "A\u{0}B", "email": "nul@example.de"])
            #expect(nul.status == 422, "NUL in text: \(nul.status)")
            #expect(try await h.request("POST", "/v1/admin/services", token: h.adminA.token, json: ["key": "nul", "name": "\u{0}"]).status == 422)
            let promoted = try await h.request("PATCH", "/v1/admin/caseworkers/\(cwID)", token: h.adminA.token, json: ["roles": ["caseworker", "admin"]])
            #expect(promoted.json["roles"] as? [String] == ["admin", "caseworker"])
            #expect(try await h.request("PATCH", "/v1/admin/caseworkers/\(h.adminA.id.uuidString.lowercased())", token: h.adminA.token, json: ["active": false]).status == 409)

            let area = try await h.request("POST", "/v1/admin/areas", token: h.adminA.token,
                                           json: ["name": "Hunde", "service_id": serviceID, "member_ids": [cwID]])
            #expect(area.status == 201)
            let areaID = try #require(area.json["id"] as? String)
            #expect(area.json["member_ids"] as? [String] == [cwID])

            // Rules: validated per kind before anything is stored.
            let bad = try await h.request("PUT", "/v1/admin/services/\(serviceID)/rules", token: h.adminA.token, json: ["rules": [
                ["area_id": areaID, "kind": "postal_codes", "definition": ["values": ["4181a"]]],
                ["area_id": areaID, "kind": "municipality_keys", "definition": ["values": ["123"]]],
                ["area_id": areaID, "kind": "form_field", "definition": ["values": ["x"]]],
                ["area_id": areaID, "kind": "default", "definition": ["values": ["x"]]],
                ["area_id": areaID, "kind": "zodiac", "definition": [String: Any]()],
            ]])
            #expect(bad.status == 422)
            let fields = (bad.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
            #expect(fields.contains("rules[0].definition.values[0]"))
            #expect(fields.contains("rules[1].definition.values[0]"))
            #expect(fields.contains("rules[2].definition.field"))
            #expect(fields.contains("rules[3].definition.values"), "routing's validator names the setting a default rule must not have")
            #expect(fields.contains("rules[4].kind"))
            let otherService = try await h.request("PUT", "/v1/admin/services/\(serviceID)/rules", token: h.adminA.token, json: ["rules": [
                ["area_id": h.north.uuidString.lowercased(), "kind": "default", "definition": [String: Any]()],
            ]])
            #expect(otherService.status == 422, "north belongs to parking")
            let good = try await h.request("PUT", "/v1/admin/services/\(serviceID)/rules", token: h.adminA.token, json: ["rules": [
                ["area_id": areaID, "kind": "form_field", "definition": ["field": "dog.breed", "values": ["Dackel", 3, true]]],
                ["area_id": areaID, "kind": "postal_codes", "definition": ["values": ["4181", "41812"]]],
                ["area_id": h.central.uuidString.lowercased(), "kind": "default", "definition": [String: Any]()],
            ]])
            #expect(good.status == 200)
            let items = good.items
            #expect(items.map { $0["kind"] as? String } == ["form_field", "postal_codes", "default"])
            #expect(items.map { $0["position"] as? Int } == [0, 1, 2])

            let members = try await h.request("PUT", "/v1/admin/areas/\(areaID)/members", token: h.adminA.token,
                                              json: ["caseworker_ids": [h.cw1.id.uuidString.lowercased()]])
            #expect(members.json["member_ids"] as? [String] == [h.cw1.id.uuidString.lowercased()])
            #expect(try await h.request("PUT", "/v1/admin/areas/\(areaID)/members", token: h.adminA.token,
                                        json: ["caseworker_ids": [h.cwB.id.uuidString.lowercased()]]).status == 422)
            let me = try await h.get("/v1/me", as: h.cw1)
            #expect((me.json["areas"] as? [[String: Any]])?.count == 2, "membership takes effect at once")

            let audit = try await h.get("/v1/admin/audit?caseworker_id=\(h.adminA.id.uuidString.lowercased())", as: h.adminA)
            let actions = Set(audit.items.compactMap { $0["action"] as? String })
            #expect(actions.isSuperset(of: ["service.create", "service.deactivate", "caseworker.create", "caseworker.update", "area.create", "rules.replace", "area.members"]))
        }
    }

    @Test("tokens and intake client keys: issued once, listed without secrets, revoked")
    func secrets() async throws {
        try await InboxHarness.with { h in
            let issued = try await h.request("POST", "/v1/admin/caseworkers/\(h.cw2.id.uuidString.lowercased())/tokens", token: h.adminA.token, json: ["label": "laptop"])
            #expect(issued.status == 201)
            let token = try #require(issued.json["token"] as? String)
            let tokenID = try #require(issued.json["id"] as? String)
            #expect(token.hasPrefix("amtsweg_ct_"))
            #expect(try await h.request("GET", "/v1/me", token: token).status == 200)
            let list = try await h.get("/v1/admin/tokens", as: h.adminA)
            #expect(list.items.contains { $0["id"] as? String == tokenID })
            #expect(!list.text.contains(token) && !list.text.contains("amtsweg_ct_") && list.items.allSatisfy { $0["token"] == nil })
            #expect(try await h.request("POST", "/v1/admin/tokens/\(tokenID)/revoke", token: h.adminA.token, json: [:]).status == 200)
            #expect(try await h.request("GET", "/v1/me", token: token).status == 401)

            let client = try await h.request("POST", "/v1/admin/intake-clients", token: h.adminA.token, json: ["name": "Formularserver", "service_keys": ["parking"]])
            #expect(client.status == 201)
            let key = try #require(client.json["key"] as? String)
            #expect(key.hasPrefix("amtsweg_ik_"))
            let clientID = try #require(client.json["id"] as? String)
            let clients = try await h.get("/v1/admin/intake-clients", as: h.adminA)
            #expect(!clients.text.contains(key))
            #expect(clients.items.first { $0["id"] as? String == clientID }?["service_keys"] as? [String] == ["parking"])
            #expect(try await h.request("POST", "/v1/admin/intake-clients", token: h.adminA.token, json: ["name": "x", "service_keys": ["nope"]]).status == 422)
            let revoked = try await h.request("POST", "/v1/admin/intake-clients/\(clientID)/revoke", token: h.adminA.token, json: [:])
            #expect(revoked.status == 200)
            #expect(revoked.json["revoked_at"] is String)
            #expect(try await h.count("SELECT count(*)::integer FROM audit_log WHERE action IN ('token.create', 'token.revoke', 'intake_client.create', 'intake_client.revoke') AND actor_id = \(h.adminA.id)") == 4)
        }
    }

    @Test("tenant policy and fallback area; unroutable applications are listed and forwarded by an admin")
    func policyAndUnroutable() async throws {
        try await InboxHarness.with { h in
            let tenant = try await h.request("PATCH", "/v1/admin/tenant", token: h.adminA.token,
                                             json: ["decisions_via_back_channel": true, "fallback_area_id": h.central.uuidString.lowercased()])
            #expect(tenant.status == 200)
            #expect(tenant.json["decisions_via_back_channel"] as? Bool == true)
            #expect(tenant.json["fallback_area_id"] as? String == h.central.uuidString.lowercased())
            #expect(try await h.request("PATCH", "/v1/admin/tenant", token: h.adminA.token, json: ["fallback_area_id": h.areaB.uuidString.lowercased()]).status == 422)
            let cleared = try await h.request("PATCH", "/v1/admin/tenant", token: h.adminA.token, json: ["fallback_area_id": NSNull()])
            #expect(cleared.json["fallback_area_id"] is NSNull)

            let stuck = try await h.makeApplication(area: nil, status: "unroutable")
            let list = try await h.get("/v1/admin/unroutable", as: h.adminA)
            #expect(list.items.map { $0["id"] as? String } == [stuck.uuidString.lowercased()])
            #expect(try await h.get("/v1/admin/unroutable", as: h.adminB).items.isEmpty)
            let forwarded = try await h.post("/v1/applications/\(stuck.uuidString.lowercased())/forward", as: h.adminA,
                                             json: ["area_id": h.north.uuidString.lowercased(), "note": "Gehört nach Nord"], ifMatch: 1)
            #expect(forwarded.status == 200)
            #expect(forwarded.json["status"] as? String == "assigned")
            #expect(try await h.get("/v1/admin/unroutable", as: h.adminA).items.isEmpty)
            #expect(try await h.get("/v1/inbox", as: h.cw1).items.count == 1)
        }
    }

    @Test("dead letters of the admin's tenant only: listed and replayed")
    func deadLetters() async throws {
        try await InboxHarness.with { h in
            for tenant in [h.tenantA, h.tenantB] {
                let id = try #require(try await h.queue.enqueue(try NewJob(queue: .citizenOutbox, payload: ["message_id": UUID().uuidString.lowercased()], tenantID: tenant, maxAttempts: 1)))
                try await h.db.pool.query("""
                    WITH moved AS (DELETE FROM queue_jobs WHERE id = \(id) RETURNING *)
                    INSERT INTO queue_dead_letters (job_id, queue, tenant_id, payload, priority, attempts, max_attempts, last_error, created_at)
                    SELECT id, queue, tenant_id, payload, priority, 1, 1, 'postbox said 400', created_at FROM moved
                    """)
            }
            let list = try await h.get("/v1/admin/dead-letters", as: h.adminA)
            #expect(list.status == 200)
            #expect(list.items.count == 1)
            #expect(list.items.first?["last_error"] as? String == "postbox said 400")
            let ids = try await h.db.pool.query("SELECT id FROM queue_dead_letters ORDER BY id").map { try $0.decode("id", as: Int64.self) }
            let replay = try await h.request("POST", "/v1/admin/dead-letters/replay", token: h.adminA.token, json: ["ids": ids])
            #expect(replay.status == 200)
            #expect((replay.json["replayed_job_ids"] as? [Any])?.count == 1, "only the own tenant's dead letter")
            #expect(try await h.count("SELECT count(*)::integer FROM queue_dead_letters") == 1)
            #expect(try await h.count("SELECT count(*)::integer FROM queue_jobs WHERE tenant_id = \(h.tenantA) AND queue = 'citizen-outbox'") == 1)
        }
    }

    @Test("every listing of dead letters is audited: one entry naming the ids read, no payloads")
    func deadLetterReadsAreAudited() async throws {
        try await InboxHarness.with { h in
            var own: [Int64] = []
            for (tenant, count) in [(h.tenantA, 3), (h.tenantB, 1)] {
                for _ in 0..<count {
                    let secret = "message-\(UUID().uuidString.lowercased())"
                    let id = try #require(try await h.queue.enqueue(try NewJob(queue: .citizenOutbox, payload: ["message_id": secret], tenantID: tenant, maxAttempts: 1)))
                    let rows = try await h.db.pool.query("""
                        WITH moved AS (DELETE FROM queue_jobs WHERE id = \(id) RETURNING *)
                        INSERT INTO queue_dead_letters (job_id, queue, tenant_id, payload, priority, attempts, max_attempts, last_error, created_at)
                        SELECT id, queue, tenant_id, payload, priority, 1, 1, 'postbox said 400', created_at FROM moved RETURNING id
                        """)
                    if tenant == h.tenantA { own.append(try rows[0].decode("id", as: Int64.self)) }
                }
            }
            #expect(try await h.count("SELECT count(*)::integer FROM audit_log WHERE action = 'dead_letter.read'") == 0)

            let page = try await h.get("/v1/admin/dead-letters?limit=2", as: h.adminA)
            #expect(page.items.count == 2)
            let rest = try await h.get("/v1/admin/dead-letters?after_id=\(own[1])", as: h.adminA)
            #expect(rest.items.count == 1)
            let rows = try await h.db.pool.query("""
                SELECT tenant_id, actor_kind, actor_id, object_kind, request_id, details::text AS details FROM audit_log
                WHERE action = 'dead_letter.read' ORDER BY id
                """)
            #expect(rows.count == 2, "one entry per listing request")
            let details = try rows.map { try JSONSerialization.jsonObject(with: Data(try $0.decode("details", as: String.self).utf8)) as? [String: String] ?? [:] }
            #expect(details.map { $0["ids"] } == [own.prefix(2).map(String.init).joined(separator: ","), String(own[2])])
            #expect(details.map { $0["count"] } == ["2", "1"])
            #expect(try rows.allSatisfy { try $0.decode("tenant_id", as: UUID.self) == h.tenantA && $0.decode("actor_id", as: UUID.self) == h.adminA.id })
            #expect(try rows.allSatisfy { try $0.decode("object_kind", as: String.self) == "dead_letter" && $0.decode("request_id", as: String?.self) != nil })
            let text = try await h.db.scalar("SELECT string_agg(details::text, ' ') FROM audit_log WHERE action = 'dead_letter.read'", as: String.self)
            #expect(!text.contains("message-") && !text.contains("postbox said"), "no payloads or errors in the audit: \(text)")
        }
    }
}
