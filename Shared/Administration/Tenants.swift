import Domain
import FoundationEssentials
import NotificationTemplates
import Postgres

/// A tenant and its settings (policy, fallback area, locale).
public struct Tenant: Encodable, Sendable, Equatable {
    public var id: UUID
    public var slug: String
    public var name: String
    public var municipalityKey: String?
    public var referencePrefix: String
    public var decisionsViaBackChannel: Bool
    public var fallbackAreaID: UUID?
    public var locale: String

    enum CodingKeys: String, CodingKey {
        case id, slug, name, locale
        case municipalityKey = "municipality_key"
        case referencePrefix = "reference_prefix"
        case decisionsViaBackChannel = "decisions_via_back_channel"
        case fallbackAreaID = "fallback_area_id"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeID(id, forKey: .id)
        try c.encode(slug, forKey: .slug)
        try c.encode(name, forKey: .name)
        try c.encodeOrNull(municipalityKey, forKey: .municipalityKey)
        try c.encode(referencePrefix, forKey: .referencePrefix)
        try c.encode(decisionsViaBackChannel, forKey: .decisionsViaBackChannel)
        try c.encodeID(fallbackAreaID, forKey: .fallbackAreaID)
        try c.encode(locale, forKey: .locale)
    }

    /// From a row of `tenants` (`SELECT *`).
    init(_ row: PostgresRow) throws {
        id = try row.decode("id")
        slug = try row.decode("slug")
        name = try row.decode("name")
        municipalityKey = try row.decode("municipality_key", as: String?.self)
        referencePrefix = try row.decode("reference_prefix")
        decisionsViaBackChannel = try row.decode("decisions_via_back_channel")
        fallbackAreaID = try row.decode("fallback_area_id", as: UUID?.self)
        locale = try row.decode("locale")
    }
}

/// A change of a tenant's settings; nil leaves a setting as it is. `fallbackAreaID` `.some(nil)`
/// clears the fallback area.
public struct TenantPatch: Decodable, Sendable {
    public var name: String?
    public var decisionsViaBackChannel: Bool?
    public var fallbackAreaID: UUID??
    public var locale: String?

    public init(name: String? = nil, decisionsViaBackChannel: Bool? = nil, fallbackAreaID: UUID?? = nil, locale: String? = nil) {
        self.name = name
        self.decisionsViaBackChannel = decisionsViaBackChannel
        self.fallbackAreaID = fallbackAreaID
        self.locale = locale
    }

    enum CodingKeys: String, CodingKey {
        case name, locale
        case decisionsViaBackChannel = "decisions_via_back_channel"
        case fallbackAreaID = "fallback_area_id"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        decisionsViaBackChannel = try c.decodeIfPresent(Bool.self, forKey: .decisionsViaBackChannel)
        locale = try c.decodeIfPresent(String.self, forKey: .locale)
        if c.contains(.fallbackAreaID) { fallbackAreaID = .some(try c.decodeIfPresent(UUID.self, forKey: .fallbackAreaID)) }
    }

    public func problems() -> [AdminError.FieldError] {
        var errors = Check.name(name)
        if let locale, !TemplateCatalog.isLocale(locale) {
            errors.append(.init(field: "locale", code: "invalid", message: "must be a locale such as de or de-DE"))
        }
        return errors
    }

    /// The settings it changes, for the audit entry.
    var fields: [String] {
        var fields: [String] = []
        if name != nil { fields.append("name") }
        if decisionsViaBackChannel != nil { fields.append("decisions_via_back_channel") }
        if locale != nil { fields.append("locale") }
        if fallbackAreaID != nil { fields.append("fallback_area_id") }
        return fields
    }
}

extension AdminStore {
    public func createTenant(slug: String, name: String, referencePrefix: String, municipalityKey: String? = nil,
                             decisionsViaBackChannel: Bool = false) async throws -> Tenant {
        var errors = Check.name(name)
        if !(1...63).contains(slug.utf8.count) || !slug.utf8.enumerated().allSatisfy({ index, b in
            (97...122).contains(b) || (48...57).contains(b) || (index > 0 && b == 45)
        }) {
            errors.append(.init(field: "slug", code: "invalid", message: "must be 1 to 63 of a-z 0-9 - starting with a letter or digit"))
        }
        if !Reference.isValidPrefix(referencePrefix) {
            errors.append(.init(field: "reference_prefix", code: "invalid",
                                message: "must be 2 to 10 capital letters or digits, starting with a letter (e.g. ERK)"))
        }
        if let municipalityKey, !Check.digits(municipalityKey, count: 8) {
            errors.append(.init(field: "municipality_key", code: "invalid", message: "must be an 8-digit municipality key (AGS)"))
        }
        try require(errors)
        return try await change { tx in
            let rows = try await tx.query("""
                INSERT INTO tenants (slug, name, reference_prefix, municipality_key, decisions_via_back_channel)
                VALUES (\(slug), \(name), \(referencePrefix), \(municipalityKey), \(decisionsViaBackChannel))
                RETURNING *
                """)
            let tenant = try Tenant(rows[0])
            try await Audit.record(audit(tenant.id, "tenant.create", "tenant", tenant.id), in: tx)
            return tenant
        }
    }

    public func listTenants() async throws -> [Tenant] {
        try await pool.query("SELECT * FROM tenants ORDER BY slug").map(Tenant.init)
    }

    /// The tenant with this slug or id (the CLI's `--tenant`).
    public func tenant(_ slugOrID: String) async throws -> Tenant {
        let id = UUID(uuidString: slugOrID)
        let rows = try await pool.query("""
            SELECT * FROM tenants WHERE CASE WHEN \(id)::uuid IS NULL THEN slug = \(slugOrID) ELSE id = \(id)::uuid END
            """)
        guard let row = rows.first else { throw AdminError(.notFound, code: "tenant-not-found", message: "no tenant '\(slugOrID)'") }
        return try Tenant(row)
    }

    public func tenant(id: UUID) async throws -> Tenant {
        guard let row = try await pool.query("SELECT * FROM tenants WHERE id = \(id)").first else { throw AdminError.notFound("tenant") }
        return try Tenant(row)
    }

    /// Changes the tenant's settings. The fallback area must be an active area of the tenant.
    public func updateTenant(_ id: UUID, _ patch: TenantPatch) async throws -> Tenant {
        try require(patch.problems())
        return try await change { tx in
            if let fallback = patch.fallbackAreaID, let area = fallback {
                let active = try await tx.query("SELECT 1 FROM responsibility_areas WHERE tenant_id = \(id) AND id = \(area) AND active")
                if active.isEmpty { throw AdminError.invalid("fallback_area_id", "unknown-area", "is not an active area of your tenant") }
            }
            let setFallback = patch.fallbackAreaID != nil
            let rows = try await tx.query("""
                UPDATE tenants SET name = coalesce(\(patch.name), name),
                       decisions_via_back_channel = coalesce(\(patch.decisionsViaBackChannel), decisions_via_back_channel),
                       locale = coalesce(\(patch.locale), locale),
                       fallback_area_id = CASE WHEN \(setFallback)::boolean THEN \(patch.fallbackAreaID ?? nil)::uuid ELSE fallback_area_id END,
                       updated_at = now()
                WHERE id = \(id)
                RETURNING *
                """)
            guard let row = rows.first else { throw AdminError.notFound("tenant") }
            try await Audit.record(audit(id, "tenant.update", "tenant", id, ["fields": patch.fields.joined(separator: ",")]), in: tx)
            return try Tenant(row)
        }
    }
}
