import Domain
import FoundationEssentials
import Postgres

/// An online service of a tenant.
public struct Service: Encodable, Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var key: String
    public var name: String
    public var leikaKey: String?
    public var active: Bool
    public var documentTrustLevel: TrustLevel
    public var retentionDays: Int

    enum CodingKeys: String, CodingKey {
        case id, key, name, active
        case tenantID = "tenant_id"
        case leikaKey = "leika_key"
        case documentTrustLevel = "document_trust_level"
        case retentionDays = "retention_days"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeID(id, forKey: .id)
        try c.encodeID(tenantID, forKey: .tenantID)
        try c.encode(key, forKey: .key)
        try c.encode(name, forKey: .name)
        try c.encodeOrNull(leikaKey, forKey: .leikaKey)
        try c.encode(active, forKey: .active)
        try c.encode(documentTrustLevel, forKey: .documentTrustLevel)
        try c.encode(retentionDays, forKey: .retentionDays)
    }

    /// From a row of `services` (`SELECT *`).
    init(_ row: PostgresRow) throws {
        id = try row.decode("id")
        tenantID = try row.decode("tenant_id")
        key = try row.decode("key")
        name = try row.decode("name")
        leikaKey = try row.decode("leika_key", as: String?.self)
        active = try row.decode("active")
        documentTrustLevel = TrustLevel(rawValue: try row.decode("document_trust_level")) ?? .substantial
        retentionDays = try row.decode("retention_days")
    }
}

/// A new service (`key` and `name` required) or a change of one (nil leaves a field as it is;
/// `key` cannot change).
public struct ServiceDraft: Decodable, Sendable {
    public var key: String?
    public var name: String?
    public var leikaKey: String?
    public var active: Bool?
    public var documentTrustLevel: String?
    public var retentionDays: Int?

    public init(key: String? = nil, name: String? = nil, leikaKey: String? = nil, active: Bool? = nil,
                documentTrustLevel: String? = nil, retentionDays: Int? = nil) {
        self.key = key
        self.name = name
        self.leikaKey = leikaKey
        self.active = active
        self.documentTrustLevel = documentTrustLevel
        self.retentionDays = retentionDays
    }

    enum CodingKeys: String, CodingKey {
        case key, name, active
        case leikaKey = "leika_key"
        case documentTrustLevel = "document_trust_level"
        case retentionDays = "retention_days"
    }

    public func problems() -> [AdminError.FieldError] {
        var errors: [AdminError.FieldError] = []
        if let key, !Self.isKey(key) {
            errors.append(.init(field: "key", code: "invalid", message: "must be 1 to 64 of a-z 0-9 . _ - starting with a letter or digit"))
        }
        errors += Check.name(name)
        if let leikaKey, !Check.digits(leikaKey, count: 14) {
            errors.append(.init(field: "leika_key", code: "invalid", message: "must be 14 digits"))
        }
        if let documentTrustLevel, TrustLevel(rawValue: documentTrustLevel) == nil {
            errors.append(.init(field: "document_trust_level", code: "invalid", message: "must be basic, substantial or high"))
        }
        if let retentionDays, !(1...36500).contains(retentionDays) {
            errors.append(.init(field: "retention_days", code: "out-of-range", message: "must be from 1 to 36500"))
        }
        return errors
    }

    /// What a new service needs besides valid fields.
    public func problemsAsNew() -> [AdminError.FieldError] {
        Check.required([("key", key), ("name", name)]) + problems()
    }

    static func isKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func ok(_ b: UInt8, first: Bool) -> Bool {
            (97...122).contains(b) || (48...57).contains(b) || (!first && (b == 46 || b == 95 || b == 45))
        }
        return ok(bytes[0], first: true) && bytes.dropFirst().allSatisfy { ok($0, first: false) }
    }
}

extension AdminStore {
    public func createService(tenant: UUID, _ draft: ServiceDraft) async throws -> Service {
        try require(draft.problemsAsNew())
        return try await change { tx in
            let rows = try await tx.query("""
                INSERT INTO services (tenant_id, key, name, leika_key, active, document_trust_level, retention_days)
                VALUES (\(tenant), \(draft.key), \(draft.name), \(draft.leikaKey), coalesce(\(draft.active), true),
                        coalesce(\(draft.documentTrustLevel), 'substantial'), coalesce(\(draft.retentionDays), 365))
                RETURNING *
                """)
            let service = try Service(rows[0])
            try await Audit.record(audit(tenant, "service.create", "service", service.id), in: tx)
            return service
        }
    }

    public func createService(tenant: UUID, key: String, name: String, leikaKey: String? = nil, active: Bool = true,
                              documentTrustLevel: TrustLevel = .substantial, retentionDays: Int = 365) async throws -> Service {
        try await createService(tenant: tenant, ServiceDraft(key: key, name: name, leikaKey: leikaKey, active: active,
                                                             documentTrustLevel: documentTrustLevel.rawValue, retentionDays: retentionDays))
    }

    public func updateService(tenant: UUID, id: UUID, _ draft: ServiceDraft) async throws -> Service {
        var errors = draft.problems()
        if draft.key != nil { errors.insert(.init(field: "key", code: "immutable", message: "cannot be changed"), at: 0) }
        try require(errors)
        return try await change { tx in
            let rows = try await tx.query("""
                UPDATE services SET name = coalesce(\(draft.name), name), leika_key = coalesce(\(draft.leikaKey), leika_key),
                       active = coalesce(\(draft.active), active), document_trust_level = coalesce(\(draft.documentTrustLevel), document_trust_level),
                       retention_days = coalesce(\(draft.retentionDays), retention_days), updated_at = now()
                WHERE tenant_id = \(tenant) AND id = \(id) RETURNING *
                """)
            guard let row = rows.first else { throw AdminError.notFound("service") }
            try await Audit.record(audit(tenant, draft.active == false ? "service.deactivate" : "service.update", "service", id), in: tx)
            return try Service(row)
        }
    }

    public func listServices(tenant: UUID) async throws -> [Service] {
        try await pool.query("SELECT * FROM services WHERE tenant_id = \(tenant) ORDER BY key").map(Service.init)
    }

    public func service(tenant: UUID, id: UUID) async throws -> Service {
        guard let row = try await pool.query("SELECT * FROM services WHERE tenant_id = \(tenant) AND id = \(id)").first else {
            throw AdminError.notFound("service")
        }
        return try Service(row)
    }

    /// The service with this key (the CLI's `--service`).
    public func service(tenant: UUID, key: String) async throws -> Service {
        guard let row = try await pool.query("SELECT * FROM services WHERE tenant_id = \(tenant) AND key = \(key)").first else {
            throw AdminError(.notFound, code: "service-not-found", message: "no service '\(key)' in this tenant")
        }
        return try Service(row)
    }
}
