import Administration
import Domain
import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Inbox isolation matrix", .serialized)
struct IsolationMatrixTests {
    @Test("every caseworker endpoint as another tenant's caseworker or from outside the area: 404, never data")
    func caseworkerEndpoints() async throws {
        try await InboxHarness.with { h in
            let id = try await h.makeApplication(area: h.north, status: "in_progress", claimedBy: h.cw1.id, name: "Geheim Person")
            let reference = try await h.db.scalar("SELECT reference FROM applications WHERE id = \(id)", as: String.self)
            let attachment = try await h.attachmentID(of: id)
            let app = "/v1/applications/\(id.uuidString.lowercased())"
            let calls: [(String, String, Any?)] = [
                ("GET", app, nil),
                ("GET", "\(app)/attachments/\(attachment.uuidString.lowercased())", nil),
                ("POST", "\(app)/claim", [String: Any]()),
                ("POST", "\(app)/release", [String: Any]()),
                ("POST", "\(app)/forward", ["area_id": h.south.uuidString.lowercased()]),
                ("POST", "\(app)/status", ["status": "completed", "outcome": "done"]),
                ("POST", "\(app)/messages", ["kind": "information", "subject": "s", "body": "b"]),
                ("POST", "\(app)/notes", ["body": "n"]),
            ]
            for outsider in [h.cwB, h.cw3, h.adminB] {
                for (method, path, body) in calls {
                    let response = try await h.request(method, path, token: outsider.token, headers: ["If-Match": "\"1\""], json: body)
                    #expect(response.status == 404, "\(outsider.name) \(method) \(path) → \(response.status)")
                    #expect(!response.text.contains(reference) && !response.text.contains("Geheim"))
                }
                for query in ["", "?status=in_progress", "?q=Geheim", "?q=\(reference)", "?area=\(h.north.uuidString.lowercased())"] {
                    let inbox = try await h.get("/v1/inbox\(query)", as: outsider)
                    #expect(inbox.status == 200)
                    #expect(inbox.items.isEmpty && !inbox.text.contains(reference), "\(outsider.name) inbox\(query)")
                }
            }
            // Nothing changed.
            #expect(try await h.version(of: id) == 1)
            #expect(try await h.count("SELECT count(*)::integer FROM messages") == 0)
            #expect(try await h.count("SELECT count(*)::integer FROM audit_log WHERE action IN ('application.read', 'attachment.read')") == 0)
        }
    }

    @Test("admin routes as a non-admin: 403; as another tenant's admin: 404 or only their own data")
    func adminEndpoints() async throws {
        try await InboxHarness.with { h in
            let tokenID = try await h.db.scalar("SELECT id FROM caseworker_tokens WHERE caseworker_id = \(h.cw1.id) LIMIT 1", as: UUID.self)
            let client = try await AdminStore(pool: h.db.pool).createIntakeClient(tenant: h.tenantA, name: "Portal A")
            let s = h.serviceA.uuidString.lowercased(), n = h.north.uuidString.lowercased(), c = h.cw1.id.uuidString.lowercased()
            let writes: [(String, String, Any?)] = [
                ("PATCH", "/v1/admin/services/\(s)", ["name": "x"]),
                ("PUT", "/v1/admin/services/\(s)/rules", ["rules": [[String: Any]]()]),
                ("GET", "/v1/admin/services/\(s)/rules", nil),
                ("PATCH", "/v1/admin/areas/\(n)", ["name": "x"]),
                ("PUT", "/v1/admin/areas/\(n)/members", ["caseworker_ids": [String]()]),
                ("PATCH", "/v1/admin/caseworkers/\(c)", ["name": "x"]),
                ("POST", "/v1/admin/caseworkers/\(c)/tokens", ["label": "x"]),
                ("POST", "/v1/admin/tokens/\(tokenID.uuidString.lowercased())/revoke", [String: Any]()),
                ("POST", "/v1/admin/intake-clients/\(client.id.uuidString.lowercased())/revoke", [String: Any]()),
            ]
            let lists = ["/v1/admin/tenant", "/v1/admin/services", "/v1/admin/areas", "/v1/admin/caseworkers", "/v1/admin/tokens",
                         "/v1/admin/intake-clients", "/v1/admin/unroutable", "/v1/admin/dead-letters", "/v1/admin/audit"]
            for (method, path, body) in writes {
                let asCaseworker = try await h.request(method, path, token: h.cw1.token, json: body)
                #expect(asCaseworker.status == 403, "caseworker \(method) \(path) → \(asCaseworker.status)")
                let asOtherAdmin = try await h.request(method, path, token: h.adminB.token, json: body)
                #expect(asOtherAdmin.status == 404, "other admin \(method) \(path) → \(asOtherAdmin.status)")
            }
            for path in lists {
                #expect(try await h.get(path, as: h.cw1).status == 403, "caseworker GET \(path)")
                let other = try await h.get(path, as: h.adminB)
                #expect(other.status == 200, "other admin GET \(path)")
                for foreign in [h.tenantA, h.serviceA, h.north, h.cw1.id, tokenID, client.id] {
                    #expect(!other.text.contains(foreign.uuidString.lowercased()), "other admin GET \(path) shows \(foreign)")
                }
            }
            for (method, path, body) in [("POST", "/v1/admin/services", ["key": "x", "name": "x"] as [String: Any]),
                                         ("POST", "/v1/admin/areas", ["name": "x"]), ("POST", "/v1/admin/caseworkers", ["name": "x", "email": "x@y.de"]),
                                         ("POST", "/v1/admin/intake-clients", ["name": "x"]), ("PATCH", "/v1/admin/tenant", ["name": "x"]),
                                         ("POST", "/v1/admin/dead-letters/replay", ["ids": [1]])] {
                #expect(try await h.request(method, path, token: h.cw1.token, json: body).status == 403, "caseworker \(method) \(path)")
            }
            // Nothing of tenant A changed.
            #expect(try await h.db.scalar("SELECT name FROM services WHERE id = \(h.serviceA)", as: String.self) == "Anwohnerparkausweis")
            #expect(try await h.count("SELECT count(*)::integer FROM caseworker_tokens WHERE tenant_id = \(h.tenantA) AND revoked_at IS NOT NULL") == 0)
            #expect(try await h.count("SELECT count(*)::integer FROM area_members WHERE area_id = \(h.north)") == 2)
        }
    }
}
