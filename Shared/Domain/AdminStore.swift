import RoutingRules
import Logging
import FoundationEssentials
import Postgres

/// A tenant as administrators see it.
public struct Tenant: Codable, Sendable, Equatable {
    public var id: UUID
    public var slug: String
    public var name: String
    public var municipalityKey: String?
    public var referencePrefix: String
    public var decisionsViaBackChannel: Bool
    public var fallbackAreaID: UUID?

    enum CodingKeys: String, CodingKey {
        case id, slug, name
        case municipalityKey = "municipality_key"
        case referencePrefix = "reference_prefix"
        case decisionsViaBackChannel = "decisions_via_back_channel"
        case fallbackAreaID = "fallback_area_id"
    }
}

public struct Service: Codable, Sendable, Equatable {
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
}

/// A routing rule of a service, pointing at an area.
public struct AreaRule: Codable, Sendable, Equatable {
    public var kind: AreaRuleKind
    /// `municipality_keys` / `postal_codes` / `form_field`: the values to match.
    public var values: [String]
    /// `form_field`: dotted path into the form.
    public var field: String?

    public init(kind: AreaRuleKind, values: [String] = [], field: String? = nil) {
        self.kind = kind
        self.values = values
        self.field = field
    }

    /// The `definition` jsonb of `area_rules`.
    public var definitionJSON: String {
        func list(_ values: [String]) -> String {
            "[" + values.map { jsonString($0) }.joined(separator: ",") + "]"
        }
        switch kind {
        case .default: return "{}"
        case .municipalityKeys, .postalCodes: return "{\"values\":\(list(values))}"
        case .formField: return "{\"field\":\(jsonString(field ?? "")),\"values\":\(list(values))}"
        }
    }
}

public struct Area: Codable, Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var serviceID: UUID?
    public var name: String
    public var rules: [AreaRule]
    public var memberIDs: [UUID]

    enum CodingKeys: String, CodingKey {
        case id, name, rules
        case tenantID = "tenant_id"
        case serviceID = "service_id"
        case memberIDs = "member_ids"
    }
}

public struct Caseworker: Codable, Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var name: String
    public var email: String
    public var roles: [CaseworkerRole]
    public var emailNotifications: Bool
    public var active: Bool

    enum CodingKeys: String, CodingKey {
        case id, name, email, roles, active
        case tenantID = "tenant_id"
        case emailNotifications = "email_notifications"
    }
}

/// A newly issued secret: shown once, never stored in clear.
public struct IssuedSecret: Codable, Sendable {
    public var id: UUID
    public var tenantID: UUID
    /// The caseworker (tokens) or nil (intake client keys).
    public var caseworkerID: UUID?
    public var name: String
    public var secret: String
    public var serviceKeys: [String]?

    enum CodingKeys: String, CodingKey {
        case id, name, secret
        case tenantID = "tenant_id"
        case caseworkerID = "caseworker_id"
        case serviceKeys = "service_keys"
    }
}

/// A request the data does not allow (unknown tenant, duplicate key…), with a message for people.
public struct AdminError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable { case notFound = "not_found", conflict, invalid }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { message }
}

/// Administration shared by the CLI and the inbox admin API. Every change writes an audit entry
/// in the same transaction.
public struct AdminStore: Sendable {
    public let pool: PostgresPool
    public var actorKind: ActorKind
    public var actorID: UUID?

    public init(pool: PostgresPool, actorKind: ActorKind = .`operator`, actorID: UUID? = nil) {
        self.pool = pool
        self.actorKind = actorKind
        self.actorID = actorID
    }

    // MARK: Tenants

    public func createTenant(slug: String, name: String, referencePrefix: String, municipalityKey: String? = nil, decisionsViaBackChannel: Bool = false) async throws -> Tenant {
        guard Reference.isValidPrefix(referencePrefix) else {
            throw AdminError(.invalid, "reference prefix must be 2 to 10 capital letters or digits, starting with a letter (e.g. ERK)")
        }
        return try await mapConstraintErrors {
            try await pool.withTransaction { tx in
                let rows = try await tx.query("""
                    INSERT INTO tenants (slug, name, reference_prefix, municipality_key, decisions_via_back_channel)
                    VALUES (\(slug), \(name), \(referencePrefix), \(municipalityKey), \(decisionsViaBackChannel))
                    RETURNING id, slug, name, municipality_key, reference_prefix, decisions_via_back_channel, fallback_area_id
                    """)
                let tenant = try Self.tenant(rows[0])
                try await Audit.record(audit(tenant.id, "tenant.create", "tenant", tenant.id), in: tx)
                return tenant
            }
        }
    }

    public func listTenants() async throws -> [Tenant] {
        try await pool.query("SELECT id, slug, name, municipality_key, reference_prefix, decisions_via_back_channel, fallback_area_id FROM tenants ORDER BY slug").map(Self.tenant)
    }

    /// The tenant with this slug or id.
    public func tenant(_ slugOrID: String) async throws -> Tenant {
        let rows: PostgresRows
        if let id = UUID(uuidString: slugOrID) {
            rows = try await pool.query("SELECT id, slug, name, municipality_key, reference_prefix, decisions_via_back_channel, fallback_area_id FROM tenants WHERE id = \(id)")
        } else {
            rows = try await pool.query("SELECT id, slug, name, municipality_key, reference_prefix, decisions_via_back_channel, fallback_area_id FROM tenants WHERE slug = \(slugOrID)")
        }
        guard let row = rows.first else { throw AdminError(.notFound, "no tenant '\(slugOrID)'") }
        return try Self.tenant(row)
    }

    public func setFallbackArea(tenant: UUID, area: UUID?) async throws {
        try await mapConstraintErrors {
            try await pool.withTransaction { tx in
                try await tx.query("UPDATE tenants SET fallback_area_id = \(area), updated_at = now() WHERE id = \(tenant)")
                try await Audit.record(audit(tenant, "tenant.update", "tenant", tenant, ["field": "fallback_area_id"]), in: tx)
            }
        }
    }

    static func tenant(_ row: PostgresRow) throws -> Tenant {
        Tenant(
            id: try row.decode("id"), slug: try row.decode("slug"), name: try row.decode("name"),
            municipalityKey: try row.decode("municipality_key", as: String?.self), referencePrefix: try row.decode("reference_prefix"),
            decisionsViaBackChannel: try row.decode("decisions_via_back_channel"), fallbackAreaID: try row.decode("fallback_area_id", as: UUID?.self)
        )
    }

    // MARK: Services

    public func createService(tenant: UUID, key: String, name: String, leikaKey: String? = nil, active: Bool = true,
                              documentTrustLevel: TrustLevel = .substantial, retentionDays: Int = 365) async throws -> Service {
        try await mapConstraintErrors {
            try await pool.withTransaction { tx in
                let rows = try await tx.query("""
                    INSERT INTO services (tenant_id, key, name, leika_key, active, document_trust_level, retention_days)
                    VALUES (\(tenant), \(key), \(name), \(leikaKey), \(active), \(documentTrustLevel.rawValue), \(retentionDays))
                    RETURNING id, tenant_id, key, name, leika_key, active, document_trust_level, retention_days
                    """)
                let service = try Self.service(rows[0])
                try await Audit.record(audit(tenant, "service.create", "service", service.id), in: tx)
                return service
            }
        }
    }

    public func listServices(tenant: UUID) async throws -> [Service] {
        try await pool.query("SELECT id, tenant_id, key, name, leika_key, active, document_trust_level, retention_days FROM services WHERE tenant_id = \(tenant) ORDER BY key").map(Self.service)
    }

    public func service(tenant: UUID, key: String) async throws -> Service {
        guard let row = try await pool.query("SELECT id, tenant_id, key, name, leika_key, active, document_trust_level, retention_days FROM services WHERE tenant_id = \(tenant) AND key = \(key)").first else {
            throw AdminError(.notFound, "no service '\(key)' in this tenant")
        }
        return try Self.service(row)
    }

    static func service(_ row: PostgresRow) throws -> Service {
        Service(
            id: try row.decode("id"), tenantID: try row.decode("tenant_id"), key: try row.decode("key"), name: try row.decode("name"),
            leikaKey: try row.decode("leika_key", as: String?.self), active: try row.decode("active"),
            documentTrustLevel: TrustLevel(rawValue: try row.decode("document_trust_level")) ?? .substantial,
            retentionDays: try row.decode("retention_days")
        )
    }

    // MARK: Areas

    /// Creates an area (of `service`, or tenant-wide when nil) with its rules appended after the
    /// service's existing rules, and its members.
    public func createArea(tenant: UUID, service: UUID?, name: String, rules: [AreaRule], members: [UUID] = []) async throws -> Area {
        if service == nil && !rules.isEmpty {
            throw AdminError(.invalid, "rules need a service: a tenant-wide area is only reached as fallback or by forwarding")
        }
        return try await mapConstraintErrors {
            try await pool.withTransaction { tx in
                let rows = try await tx.query("""
                    INSERT INTO responsibility_areas (tenant_id, service_id, name) VALUES (\(tenant), \(service), \(name)) RETURNING id
                    """)
                let id = try rows[0].decode("id", as: UUID.self)
                if let service {
                    for rule in rules {
                        try await tx.query("""
                            INSERT INTO area_rules (tenant_id, service_id, area_id, position, kind, definition)
                            SELECT \(tenant), \(service), \(id),
                                   coalesce((SELECT max(position) + 1 FROM area_rules WHERE tenant_id = \(tenant) AND service_id = \(service)), 0),
                                   \(rule.kind.rawValue), \(PostgresRawJSON(rule.definitionJSON))
                            """)
                    }
                }
                for member in members {
                    try await tx.query("INSERT INTO area_members (tenant_id, area_id, caseworker_id) VALUES (\(tenant), \(id), \(member))")
                }
                try await Audit.record(audit(tenant, "area.create", "area", id, ["rules": String(rules.count), "members": String(members.count)]), in: tx)
                return Area(id: id, tenantID: tenant, serviceID: service, name: name, rules: rules, memberIDs: members)
            }
        }
    }

    // MARK: Caseworkers

    public func createCaseworker(tenant: UUID, name: String, email: String, roles: [CaseworkerRole], emailNotifications: Bool = true) async throws -> Caseworker {
        try await mapConstraintErrors {
            try await pool.withTransaction { tx in
                let rows = try await tx.query("""
                    INSERT INTO caseworkers (tenant_id, name, email, roles, email_notifications)
                    VALUES (\(tenant), \(name), \(email), \(roles.map(\.rawValue))::text[], \(emailNotifications))
                    RETURNING id
                    """)
                let id = try rows[0].decode("id", as: UUID.self)
                try await Audit.record(audit(tenant, "caseworker.create", "caseworker", id, ["roles": roles.map(\.rawValue).joined(separator: ",")]), in: tx)
                return Caseworker(id: id, tenantID: tenant, name: name, email: email, roles: roles, emailNotifications: emailNotifications, active: true)
            }
        }
    }

    /// The caseworker with this id or e-mail address in `tenant`.
    public func caseworker(tenant: UUID, _ idOrEmail: String) async throws -> UUID {
        let rows: PostgresRows
        if let id = UUID(uuidString: idOrEmail) {
            rows = try await pool.query("SELECT id FROM caseworkers WHERE tenant_id = \(tenant) AND id = \(id)")
        } else {
            rows = try await pool.query("SELECT id FROM caseworkers WHERE tenant_id = \(tenant) AND lower(email) = lower(\(idOrEmail))")
        }
        guard let row = rows.first else { throw AdminError(.notFound, "no caseworker '\(idOrEmail)' in this tenant") }
        return try row.decode("id")
    }

    // MARK: Secrets

    public func createCaseworkerToken(tenant: UUID, caseworker: UUID, label: String = "") async throws -> IssuedSecret {
        let token = SecretToken.generate(.caseworkerToken)
        return try await mapConstraintErrors {
            try await pool.withTransaction { tx in
                let rows = try await tx.query("""
                    INSERT INTO caseworker_tokens (tenant_id, caseworker_id, token_hash, label)
                    VALUES (\(tenant), \(caseworker), \(Bytea(token.hash)), \(label)) RETURNING id
                    """)
                let id = try rows[0].decode("id", as: UUID.self)
                try await Audit.record(audit(tenant, "token.create", "caseworker_token", id, ["caseworker_id": caseworker.uuidString.lowercased()]), in: tx)
                return IssuedSecret(id: id, tenantID: tenant, caseworkerID: caseworker, name: label, secret: token.value, serviceKeys: nil)
            }
        }
    }

    /// An intake client key for `tenant`, limited to `serviceKeys` when given.
    public func createIntakeClient(tenant: UUID, name: String, serviceKeys: [String]? = nil) async throws -> IssuedSecret {
        let key = SecretToken.generate(.intakeClientKey)
        return try await mapConstraintErrors {
            try await pool.withTransaction { tx in
                let rows = try await tx.query("""
                    INSERT INTO intake_clients (tenant_id, name, key_hash, all_services)
                    VALUES (\(tenant), \(name), \(Bytea(key.hash)), \(serviceKeys == nil)) RETURNING id
                    """)
                let id = try rows[0].decode("id", as: UUID.self)
                if let serviceKeys {
                    let inserted = try await tx.query("""
                        INSERT INTO intake_client_services (tenant_id, intake_client_id, service_id)
                        SELECT tenant_id, \(id), id FROM services WHERE tenant_id = \(tenant) AND key = ANY(\(serviceKeys)::text[])
                        """)
                    if inserted.affectedRows != Set(serviceKeys).count {
                        throw AdminError(.notFound, "unknown service key among \(serviceKeys.joined(separator: ", "))")
                    }
                }
                try await Audit.record(audit(tenant, "intake_client.create", "intake_client", id, ["services": serviceKeys.map { String($0.count) } ?? "all"]), in: tx)
                return IssuedSecret(id: id, tenantID: tenant, caseworkerID: nil, name: name, secret: key.value, serviceKeys: serviceKeys)
            }
        }
    }

    // MARK: Helpers

    private func audit(_ tenant: UUID, _ action: String, _ kind: String, _ object: UUID, _ details: [String: String] = [:]) -> AuditEntry {
        AuditEntry(tenantID: tenant, actorKind: actorKind, actorID: actorID, action: action, objectKind: kind,
                   objectID: object.uuidString.lowercased(), details: details)
    }

    /// Turns unique, foreign-key and check violations into ``AdminError``s naming the constraint.
    private func mapConstraintErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PostgresError {
            let constraint = error.constraint ?? "?"
            if error.isUniqueViolation { throw AdminError(.conflict, "already exists (\(constraint))") }
            switch error.sqlState {
            case "23503": throw AdminError(.notFound, "refers to something that does not exist in this tenant (\(constraint))")
            case "23514", "22P02", "23502": throw AdminError(.invalid, "invalid value (\(constraint))")
            default: throw error
            }
        }
    }
}

/// A JSON string literal for `text`.
func jsonString(_ text: String) -> String {
    var out = ""
    JSONLine.appendString(text, to: &out)  // the one JSON string escaper (Shared/Logging)
    return out
}
