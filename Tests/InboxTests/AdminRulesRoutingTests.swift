import Domain
import Foundation
import JobQueue
import Postgres
import Routing
import Testing
import TestSupport

/// Rules saved through the admin API (real HTTP) are exactly what the routing engine accepts,
/// and applications are then routed with them by the real `Routing`.
@Suite("Admin rules and routing agree", .serialized)
struct AdminRulesRoutingTests {
    /// A `received` application of tenant A's `parking`, as intake stores it.
    func application(_ h: InboxHarness, postalCode: String?, municipalityKey: String? = nil, form: String = "{}") async throws -> UUID {
        let number = try await h.db.scalar("SELECT count(*)::integer + 1 FROM applications", as: Int.self)
        var address: [String: String] = [:]
        if let postalCode { address["postal_code"] = postalCode }
        if let municipalityKey { address["municipality_key"] = municipalityKey }
        let applicant = String(decoding: try JSONSerialization.data(withJSONObject: ["name": "Erika Mustermann", "address": address]), as: UTF8.self)
        return try await h.db.pool.query("""
            INSERT INTO applications (tenant_id, service_id, reference, applicant, form, submitted_at)
            VALUES (\(h.tenantA), \(h.serviceA), \(Reference.format(prefix: "ERK", year: 2026, number: Int64(number))),
                    \(PostgresRawJSON(applicant))::jsonb, \(PostgresRawJSON(form))::jsonb, now())
            RETURNING id
            """)[0].decode("id")
    }

    func putRules(_ h: InboxHarness, _ rules: [[String: Any]]) async throws -> InboxHarness.Response {
        try await h.request("PUT", "/v1/admin/services/\(h.serviceA.uuidString.lowercased())/rules", token: h.adminA.token, json: ["rules": rules])
    }

    func storedRules(_ h: InboxHarness) async throws -> String {
        try await h.db.scalar("""
            SELECT coalesce(string_agg(kind || ' ' || definition::text, ' | ' ORDER BY position), '') FROM area_rules WHERE service_id = \(h.serviceA)
            """, as: String.self)
    }

    @Test("rules saved through the admin API route applications as the admin wrote them")
    func savedRulesRoute() async throws {
        try await InboxHarness.with { h in
            let north = h.north.uuidString.lowercased(), south = h.south.uuidString.lowercased(), central = h.central.uuidString.lowercased()
            let saved = try await putRules(h, [
                ["area_id": north, "kind": "postal_codes", "definition": ["values": ["52500-52599", "41812"]]],
                ["area_id": south, "kind": "form_field", "definition": ["field": "vehicle.kind", "values": ["truck", 3]]],
                ["area_id": south, "kind": "municipality_keys", "definition": ["values": ["05370020"]]],
                ["area_id": central, "kind": "default", "definition": [String: Any]()],
            ])
            #expect(saved.status == 200, "\(saved)")

            let routing = Routing(queue: h.queue, logger: h.db.logger)
            let cases: [(code: String?, key: String?, form: String, area: UUID)] = [
                ("52500", nil, "{}", h.north), ("52550", nil, "{}", h.north), ("52599", nil, "{}", h.north), ("41812", nil, "{}", h.north),
                ("52600", nil, #"{"vehicle": {"kind": "truck"}}"#, h.south), ("52600", nil, #"{"vehicle": {"kind": 3}}"#, h.south),
                ("10115", "05370020", "{}", h.south),
                ("52499", nil, #"{"vehicle": {"kind": "car"}}"#, h.central), (nil, nil, "{}", h.central),
            ]
            for c in cases {
                let id = try await application(h, postalCode: c.code, municipalityKey: c.key, form: c.form)
                let outcome = try await h.db.pool.withTransaction { try await routing.route(application: id, tenant: h.tenantA, in: $0) }
                #expect(outcome.decision == .matchedRule, "\(c)")
                #expect(outcome.areaID == c.area, "\(c): routed to \(String(describing: outcome.areaID))")
            }
        }
    }

    @Test("rules the routing engine refuses are refused at save time, naming the field")
    func refusedAlike() async throws {
        try await InboxHarness.with { h in
            let north = h.north.uuidString.lowercased()
            let before = try await storedRules(h)
            let many = "[" + (0..<1001).map { _ in "\"41812\"" }.joined(separator: ",") + "]"
            let refused: [(kind: String, definition: String, field: String)] = [
                ("form_field", #"{"field": "vehicle.kind", "values": ["truck", null]}"#, "rules[0].definition.values[1]"),
                ("form_field", #"{"field": "vehicle kind", "values": ["truck"]}"#, "rules[0].definition.field"),
                ("form_field", #"{"field": "a.b.c.d.e.f.g.h.i.j.k", "values": ["truck"]}"#, "rules[0].definition.field"),
                ("form_field", #"{"field": "vehicle.kind", "values": \#(many)}"#, "rules[0].definition.values"),
                ("postal_codes", #"{"values": \#(many)}"#, "rules[0].definition.values"),
            ]
            for r in refused {
                let definition = try JSONValue.parse(r.definition)
                #expect(throws: RuleValidationError.self, "routing refuses \(r.field)") { try RoutingRule(kind: r.kind, definition: definition) }
                let json = try JSONSerialization.jsonObject(with: Data(r.definition.utf8))
                let answer = try await putRules(h, [["area_id": north, "kind": r.kind, "definition": json]])
                #expect(answer.status == 422, "\(r.kind) \(r.field): \(answer)")
                #expect(answer.code == "validation-failed")
                let fields = (answer.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
                #expect(fields.contains(r.field), "\(fields)")
            }
            #expect(try await storedRules(h) == before, "nothing was stored")
        }
    }

    @Test("a rule after the default rule could never match and is refused")
    func ruleAfterDefault() async throws {
        try await InboxHarness.with { h in
            let before = try await storedRules(h)
            let answer = try await putRules(h, [
                ["area_id": h.central.uuidString.lowercased(), "kind": "default", "definition": [String: Any]()],
                ["area_id": h.north.uuidString.lowercased(), "kind": "postal_codes", "definition": ["values": ["41812"]]],
            ])
            #expect(answer.status == 422, "\(answer)")
            let errors = answer.json["errors"] as? [[String: Any]] ?? []
            #expect(errors.contains { ($0["field"] as? String)?.hasPrefix("rules[1]") == true && $0["code"] as? String == "unreachable" }, "\(answer)")
            #expect((answer.json["detail"] as? String)?.contains("never match") == true, "\(answer)")
            #expect(try await storedRules(h) == before)
        }
    }
}
