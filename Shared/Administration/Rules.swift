import Domain
import FoundationEssentials
import Postgres
import RoutingRules

/// A routing rule as an admin writes it. Whether it can be saved is decided by routing's own
/// parser, ``RoutingRule/init(kind:definition:)``, and for a service's list by
/// ``RuleSet/validate(_:following:)``: what routing would refuse or never reach is refused here.
public struct RuleDraft: Decodable, Sendable, Equatable {
    public var kind: String
    public var definition: JSONValue

    public init(kind: String, definition: JSONValue) {
        self.kind = kind
        self.definition = definition
    }
}

/// A rule of a service's list and the area it sends to (`{"area_id", "kind", "definition"}`).
public struct ServiceRuleDraft: Decodable, Sendable, Equatable {
    public var areaID: UUID
    public var rule: RuleDraft

    public init(areaID: UUID, rule: RuleDraft) {
        self.areaID = areaID
        self.rule = rule
    }

    enum CodingKeys: String, CodingKey { case areaID = "area_id" }

    public init(from decoder: Decoder) throws {
        areaID = try decoder.container(keyedBy: CodingKeys.self).decode(UUID.self, forKey: .areaID)
        rule = try RuleDraft(from: decoder)
    }
}

/// A stored rule: its area, its place in the service's order, and its canonical definition.
public struct ServiceRule: Encodable, Sendable, Equatable {
    public var id: UUID
    public var areaID: UUID
    public var position: Int
    public var kind: String
    public var definition: JSONValue

    enum CodingKeys: String, CodingKey {
        case id, position, kind, definition
        case areaID = "area_id"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeID(id, forKey: .id)
        try c.encodeID(areaID, forKey: .areaID)
        try c.encode(position, forKey: .position)
        try c.encode(kind, forKey: .kind)
        try c.encode(definition, forKey: .definition)
    }
}

/// A service's rules in evaluation order.
public struct ServiceRules: Encodable, Sendable, Equatable {
    public var serviceID: UUID
    public var items: [ServiceRule]

    enum CodingKeys: String, CodingKey {
        case items
        case serviceID = "service_id"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeID(serviceID, forKey: .serviceID)
        try c.encode(items, forKey: .items)
    }
}

extension AdminStore {
    /// Refuses rules routing would refuse or never reach, as a new list of their own: every
    /// problem, each naming its field (`rules[1].definition.values[0]`). Pure: the CLI checks its
    /// arguments with it before touching the database.
    public static func checkRules(_ rules: [RuleDraft]) throws(AdminError) {
        _ = try parse(rules.enumerated().map { ($0.offset, $0.element.kind, $0.element.definition) })
    }

    /// Routing's parser over a list; its problems as an ``AdminError``.
    static func parse(_ rules: [(position: Int, kind: String, definition: JSONValue)],
                      following earlier: [(position: Int, kind: AreaRuleKind)] = []) throws(AdminError) -> [RoutingRule] {
        do {
            return try RuleSet.validate(rules, following: earlier)
        } catch {
            // The one problem a field cannot say alone: name it in the detail.
            let unreachable = error.errors.first { $0.code == "unreachable" }
            throw AdminError.invalid(
                error.errors.map { .init(field: $0.field, code: $0.code, message: $0.reason) },
                message: unreachable.map { "\($0.field.replacing(".position", with: "")) \($0.reason)." } ?? "The rules have invalid fields.")
        }
    }

    public func rules(tenant: UUID, service: UUID) async throws -> ServiceRules {
        try await rules(tenant: tenant, service: service, in: nil)
    }

    /// Replaces the service's rules; their order is the list's order. The areas must be of this
    /// service or of the whole tenant.
    public func replaceRules(tenant: UUID, service: UUID, _ rules: [ServiceRuleDraft]) async throws -> ServiceRules {
        let parsed = try Self.parse(rules.enumerated().map { ($0.offset, $0.element.rule.kind, $0.element.rule.definition) })
        return try await change { tx in
            let owner = try await tx.query("SELECT id FROM services WHERE tenant_id = \(tenant) AND id = \(service) FOR UPDATE")
            if owner.isEmpty { throw AdminError.notFound("service") }
            let areas = Array(Set(rules.map(\.areaID)))
            let found = try await tx.query("SELECT id, service_id FROM responsibility_areas WHERE tenant_id = \(tenant) AND id = ANY(\(areas)::uuid[])")
            var serviceOf: [UUID: UUID?] = [:]
            for row in found { serviceOf[try row.decode("id", as: UUID.self)] = try row.decode("service_id", as: UUID?.self) }
            var errors: [AdminError.FieldError] = []
            for (index, rule) in rules.enumerated() {
                switch serviceOf[rule.areaID] {
                case nil: errors.append(.init(field: "rules[\(index)].area_id", code: "unknown-area", message: "is not an area of your tenant"))
                case let owner?? where owner != service:
                    errors.append(.init(field: "rules[\(index)].area_id", code: "area-of-other-service", message: "belongs to another service"))
                default: break
                }
            }
            try require(errors)
            try await tx.query("DELETE FROM area_rules WHERE tenant_id = \(tenant) AND service_id = \(service)")
            try await insert(parsed, areas: rules.map(\.areaID), from: 0, tenant: tenant, service: service, in: tx)
            try await Audit.record(audit(tenant, "rules.replace", "service", service, ["rules": String(rules.count)]), in: tx)
            return try await self.rules(tenant: tenant, service: service, in: tx)
        }
    }

    /// Appends `rules` for `area` behind the service's stored rules (a new area's, from the CLI).
    func appendRules(_ rules: [RuleDraft], area: UUID, tenant: UUID, service: UUID, in tx: Transaction) async throws {
        try await tx.query("SELECT id FROM services WHERE tenant_id = \(tenant) AND id = \(service) FOR UPDATE")
        let stored = try await tx.query("SELECT position, kind FROM area_rules WHERE tenant_id = \(tenant) AND service_id = \(service)")
        let earlier = try stored.compactMap { row -> (position: Int, kind: AreaRuleKind)? in
            guard let kind = AreaRuleKind(rawValue: try row.decode("kind")) else { return nil }
            return (try row.decode("position", as: Int.self), kind)
        }
        let start = (earlier.map(\.position).max() ?? -1) + 1
        let parsed = try Self.parse(rules.enumerated().map { (start + $0.offset, $0.element.kind, $0.element.definition) }, following: earlier)
        try await insert(parsed, areas: Array(repeating: area, count: rules.count), from: start, tenant: tenant, service: service, in: tx)
    }

    /// Stores `rules` (canonical definitions, as routing parsed them) at positions `from`….
    private func insert(_ rules: [RoutingRule], areas: [UUID], from start: Int, tenant: UUID, service: UUID, in tx: Transaction) async throws {
        guard !rules.isEmpty else { return }
        try await tx.query("""
            INSERT INTO area_rules (tenant_id, service_id, area_id, position, kind, definition)
            SELECT \(tenant), \(service), r.area, \(start)::integer + r.n::integer - 1, r.kind, r.definition::jsonb
            FROM unnest(\(areas)::uuid[], \(rules.map(\.kind.rawValue))::text[], \(rules.map(\.definition.jsonText))::text[])
                 WITH ORDINALITY AS r(area, kind, definition, n)
            """)
    }

    private func rules(tenant: UUID, service: UUID, in tx: Transaction?) async throws -> ServiceRules {
        let query: SQLQuery = """
            SELECT s.id AS service_id, r.id, r.area_id, r.position, r.kind, r.definition::text AS definition
            FROM services s LEFT JOIN area_rules r ON r.tenant_id = s.tenant_id AND r.service_id = s.id
            WHERE s.tenant_id = \(tenant) AND s.id = \(service)
            ORDER BY r.position
            """
        let rows = if let tx { try await tx.query(query) } else { try await pool.query(query) }
        guard !rows.isEmpty else { throw AdminError.notFound("service") }
        var items: [ServiceRule] = []
        for row in rows {
            guard let id = try row.decode("id", as: UUID?.self) else { continue }
            items.append(ServiceRule(id: id, areaID: try row.decode("area_id"), position: try row.decode("position"), kind: try row.decode("kind"),
                                     definition: try JSONValue.parse(try row.decode("definition", as: String.self))))
        }
        return ServiceRules(serviceID: service, items: items)
    }
}
