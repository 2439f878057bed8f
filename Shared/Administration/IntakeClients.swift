import Domain
import FoundationEssentials
import Postgres

/// A posting system's key as listed: never its secret or hash.
public struct IntakeClient: Encodable, Sendable, Equatable {
    public var id: UUID
    public var name: String
    /// true: may post to every service of the tenant; false: only to `serviceKeys`.
    public var allServices: Bool
    public var serviceKeys: [String]
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name
        case allServices = "all_services"
        case serviceKeys = "service_keys"
        case createdAt = "created_at"
        case lastUsedAt = "last_used_at"
        case revokedAt = "revoked_at"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeID(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(allServices, forKey: .allServices)
        try c.encode(serviceKeys, forKey: .serviceKeys)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encodeOrNull(lastUsedAt, forKey: .lastUsedAt)
        try c.encodeOrNull(revokedAt, forKey: .revokedAt)
    }

    init(_ row: PostgresRow) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        allServices = try row.decode("all_services")
        serviceKeys = try row.decode("service_keys")
        createdAt = try row.decode("created_at")
        lastUsedAt = try row.decode("last_used_at", as: Date?.self)
        revokedAt = try row.decode("revoked_at", as: Date?.self)
    }

    static func select(tenant: UUID, id: UUID?) -> SQLQuery {
        """
        SELECT c.id, c.name, c.all_services, c.created_at, c.last_used_at, c.revoked_at,
               coalesce((SELECT array_agg(s.key ORDER BY s.key) FROM intake_client_services cs
                         JOIN services s ON s.tenant_id = cs.tenant_id AND s.id = cs.service_id
                         WHERE cs.tenant_id = c.tenant_id AND cs.intake_client_id = c.id), '{}') AS service_keys
        FROM intake_clients c
        WHERE c.tenant_id = \(tenant) AND (\(id)::uuid IS NULL OR c.id = \(id)::uuid)
        ORDER BY c.created_at, c.id
        """
    }
}

/// A key just issued: the only time its secret (`key`) is shown.
public struct IssuedIntakeClient: Encodable, Sendable {
    public var client: IntakeClient
    public var secret: String

    enum CodingKeys: String, CodingKey { case key }

    public func encode(to encoder: Encoder) throws {
        try client.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(secret, forKey: .key)
    }

    public var id: UUID { client.id }
}

/// A new intake client: for all services of the tenant (`serviceKeys` nil) or those listed.
public struct IntakeClientDraft: Decodable, Sendable {
    public var name: String
    public var serviceKeys: [String]?

    public init(name: String, serviceKeys: [String]? = nil) {
        self.name = name
        self.serviceKeys = serviceKeys
    }

    enum CodingKeys: String, CodingKey {
        case name
        case serviceKeys = "service_keys"
    }

    public func problems() -> [AdminError.FieldError] {
        var errors = Check.name(name)
        if let serviceKeys, serviceKeys.isEmpty || serviceKeys.count > 200 {
            errors.append(.init(field: "service_keys", code: "invalid", message: "must list 1 to 200 service keys, or be left out for all services"))
        }
        return errors
    }
}

extension AdminStore {
    public func createIntakeClient(tenant: UUID, _ draft: IntakeClientDraft) async throws -> IssuedIntakeClient {
        try require(draft.problems())
        let key = SecretToken.generate(.intakeClientKey)
        return try await change { tx in
            let rows = try await tx.query("""
                INSERT INTO intake_clients (tenant_id, name, key_hash, all_services)
                VALUES (\(tenant), \(draft.name), \(Bytea(key.hash)), \(draft.serviceKeys == nil)) RETURNING id
                """)
            let id = try rows[0].decode("id", as: UUID.self)
            if let keys = draft.serviceKeys {
                let unique = Array(Set(keys))
                let inserted = try await tx.query("""
                    INSERT INTO intake_client_services (tenant_id, intake_client_id, service_id)
                    SELECT tenant_id, \(id), id FROM services WHERE tenant_id = \(tenant) AND key = ANY(\(unique)::text[])
                    """)
                if inserted.affectedRows != unique.count {
                    throw AdminError.invalid("service_keys", "unknown-service", "names a service that is not in your tenant")
                }
            }
            try await Audit.record(audit(tenant, "intake_client.create", "intake_client", id,
                                         ["services": draft.serviceKeys.map { String(Set($0).count) } ?? "all"]), in: tx)
            let client = try IntakeClient(try await tx.query(IntakeClient.select(tenant: tenant, id: id))[0])
            return IssuedIntakeClient(client: client, secret: key.value)
        }
    }

    public func createIntakeClient(tenant: UUID, name: String, serviceKeys: [String]? = nil) async throws -> IssuedIntakeClient {
        try await createIntakeClient(tenant: tenant, IntakeClientDraft(name: name, serviceKeys: serviceKeys))
    }

    public func intakeClients(tenant: UUID) async throws -> [IntakeClient] {
        try await pool.query(IntakeClient.select(tenant: tenant, id: nil)).map(IntakeClient.init)
    }

    /// Revokes a key (again: nothing changes, the first revocation time stays).
    public func revokeIntakeClient(tenant: UUID, id: UUID) async throws -> IntakeClient {
        try await change { tx in
            let rows = try await tx.query("UPDATE intake_clients SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id = \(tenant) AND id = \(id) RETURNING id")
            if rows.isEmpty { throw AdminError.notFound("intake-client") }
            try await Audit.record(audit(tenant, "intake_client.revoke", "intake_client", id), in: tx)
            return try IntakeClient(try await tx.query(IntakeClient.select(tenant: tenant, id: id))[0])
        }
    }
}
