import Domain
import FoundationEssentials
import Postgres
import RoutingRules

/// A responsibility area: of one service, or (service nil) of the whole tenant, reached only as
/// the fallback area or by forwarding.
public struct Area: Encodable, Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var serviceID: UUID?
    public var name: String
    public var active: Bool
    public var memberIDs: [UUID]

    enum CodingKeys: String, CodingKey {
        case id, name, active
        case tenantID = "tenant_id"
        case serviceID = "service_id"
        case memberIDs = "member_ids"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeID(id, forKey: .id)
        try c.encodeID(tenantID, forKey: .tenantID)
        try c.encodeID(serviceID, forKey: .serviceID)
        try c.encode(name, forKey: .name)
        try c.encode(active, forKey: .active)
        try c.encodeIDs(memberIDs, forKey: .memberIDs)
    }

    init(_ row: PostgresRow) throws {
        id = try row.decode("id")
        tenantID = try row.decode("tenant_id")
        serviceID = try row.decode("service_id", as: UUID?.self)
        name = try row.decode("name")
        active = try row.decode("active")
        memberIDs = try row.decode("member_ids")
    }

    /// `responsibility_areas` with `member_ids`, for a `WHERE` on `ra`.
    static func select(tenant: UUID, id: UUID?) -> SQLQuery {
        """
        SELECT ra.*, coalesce((SELECT array_agg(m.caseworker_id ORDER BY m.caseworker_id) FROM area_members m
                               WHERE m.tenant_id = ra.tenant_id AND m.area_id = ra.id), '{}') AS member_ids
        FROM responsibility_areas ra
        WHERE ra.tenant_id = \(tenant) AND (\(id)::uuid IS NULL OR ra.id = \(id)::uuid)
        ORDER BY ra.name, ra.id
        """
    }
}

/// A new area (`name` required) or a change of one (nil leaves a field as it is; `service_id`
/// cannot change). `memberIDs` replaces the members.
public struct AreaDraft: Decodable, Sendable {
    public var name: String?
    public var serviceID: UUID?
    public var active: Bool?
    public var memberIDs: [UUID]?

    public init(name: String? = nil, serviceID: UUID? = nil, active: Bool? = nil, memberIDs: [UUID]? = nil) {
        self.name = name
        self.serviceID = serviceID
        self.active = active
        self.memberIDs = memberIDs
    }

    enum CodingKeys: String, CodingKey {
        case name, active
        case serviceID = "service_id"
        case memberIDs = "member_ids"
    }
}

extension AdminStore {
    /// Creates an area with its members and, for an area of a service, `rules` appended after the
    /// service's rules (checked as ``checkRules(_:)`` does, and refused behind a stored default
    /// rule). One transaction: a refused rule leaves no area behind.
    public func createArea(tenant: UUID, _ draft: AreaDraft, rules: [RuleDraft] = []) async throws -> Area {
        try require(Check.required([("name", draft.name)]) + Check.name(draft.name))
        if draft.serviceID == nil && !rules.isEmpty {
            throw AdminError.invalid("rules", "needs-service", "rules need a service: a tenant-wide area is only reached as fallback or by forwarding")
        }
        try Self.checkRules(rules)
        return try await change { tx in
            let rows = try await tx.query("""
                INSERT INTO responsibility_areas (tenant_id, service_id, name, active)
                VALUES (\(tenant), \(draft.serviceID), \(draft.name), coalesce(\(draft.active), true)) RETURNING id
                """)
            let id = try rows[0].decode("id", as: UUID.self)
            if let service = draft.serviceID, !rules.isEmpty {
                try await appendRules(rules, area: id, tenant: tenant, service: service, in: tx)
            }
            let members = draft.memberIDs ?? []
            try await setMembers(members, area: id, tenant: tenant, in: tx)
            try await Audit.record(audit(tenant, "area.create", "area", id, ["rules": String(rules.count), "members": String(Set(members).count)]), in: tx)
            return try await area(tenant: tenant, id: id, in: tx)
        }
    }

    public func createArea(tenant: UUID, service: UUID?, name: String, rules: [RuleDraft] = [], members: [UUID] = []) async throws -> Area {
        try await createArea(tenant: tenant, AreaDraft(name: name, serviceID: service, memberIDs: members), rules: rules)
    }

    public func updateArea(tenant: UUID, id: UUID, _ draft: AreaDraft) async throws -> Area {
        var errors = Check.name(draft.name)
        if draft.serviceID != nil { errors.insert(.init(field: "service_id", code: "immutable", message: "cannot be changed"), at: 0) }
        try require(errors)
        return try await change { tx in
            let rows = try await tx.query("""
                UPDATE responsibility_areas SET name = coalesce(\(draft.name), name), active = coalesce(\(draft.active), active), updated_at = now()
                WHERE tenant_id = \(tenant) AND id = \(id) RETURNING id
                """)
            if rows.isEmpty { throw AdminError.notFound("area") }
            if let members = draft.memberIDs { try await setMembers(members, area: id, tenant: tenant, in: tx) }
            try await Audit.record(audit(tenant, draft.active == false ? "area.deactivate" : "area.update", "area", id), in: tx)
            return try await area(tenant: tenant, id: id, in: tx)
        }
    }

    /// Makes `caseworkers` (of the tenant) the area's members.
    public func replaceMembers(tenant: UUID, area id: UUID, caseworkers: [UUID]) async throws -> Area {
        try await change { tx in
            let rows = try await tx.query("SELECT id FROM responsibility_areas WHERE tenant_id = \(tenant) AND id = \(id) FOR UPDATE")
            if rows.isEmpty { throw AdminError.notFound("area") }
            try await setMembers(caseworkers, area: id, tenant: tenant, field: "caseworker_ids", in: tx)
            try await Audit.record(audit(tenant, "area.members", "area", id, ["members": String(Set(caseworkers).count)]), in: tx)
            return try await area(tenant: tenant, id: id, in: tx)
        }
    }

    public func listAreas(tenant: UUID) async throws -> [Area] {
        try await pool.query(Area.select(tenant: tenant, id: nil)).map(Area.init)
    }

    public func area(tenant: UUID, id: UUID) async throws -> Area {
        guard let row = try await pool.query(Area.select(tenant: tenant, id: id)).first else { throw AdminError.notFound("area") }
        return try Area(row)
    }

    func area(tenant: UUID, id: UUID, in tx: Transaction) async throws -> Area {
        guard let row = try await tx.query(Area.select(tenant: tenant, id: id)).first else { throw AdminError.notFound("area") }
        return try Area(row)
    }

    private func setMembers(_ members: [UUID], area: UUID, tenant: UUID, field: String = "member_ids", in tx: Transaction) async throws {
        let unique = Array(Set(members))
        let known = try await tx.query("SELECT count(*)::integer AS n FROM caseworkers WHERE tenant_id = \(tenant) AND id = ANY(\(unique)::uuid[])")
        guard try known[0].decode("n", as: Int.self) == unique.count else {
            throw AdminError.invalid(field, "unknown-caseworker", "names a caseworker who is not in your tenant")
        }
        try await tx.query("DELETE FROM area_members WHERE tenant_id = \(tenant) AND area_id = \(area) AND NOT (caseworker_id = ANY(\(unique)::uuid[]))")
        try await tx.query("""
            INSERT INTO area_members (tenant_id, area_id, caseworker_id)
            SELECT \(tenant), \(area), c FROM unnest(\(unique)::uuid[]) AS c ON CONFLICT DO NOTHING
            """)
    }
}
