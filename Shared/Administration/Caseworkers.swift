import Domain
import FoundationEssentials
import Postgres

/// A caseworker (or admin) of a tenant and the areas they belong to.
public struct Caseworker: Encodable, Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var name: String
    public var email: String
    public var roles: [CaseworkerRole]
    public var emailNotifications: Bool
    public var active: Bool
    public var areaIDs: [UUID]

    enum CodingKeys: String, CodingKey {
        case id, name, email, roles, active
        case tenantID = "tenant_id"
        case emailNotifications = "email_notifications"
        case areaIDs = "area_ids"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeID(id, forKey: .id)
        try c.encodeID(tenantID, forKey: .tenantID)
        try c.encode(name, forKey: .name)
        try c.encode(email, forKey: .email)
        try c.encode(roles, forKey: .roles)
        try c.encode(emailNotifications, forKey: .emailNotifications)
        try c.encode(active, forKey: .active)
        try c.encodeIDs(areaIDs, forKey: .areaIDs)
    }

    init(_ row: PostgresRow) throws {
        id = try row.decode("id")
        tenantID = try row.decode("tenant_id")
        name = try row.decode("name")
        email = try row.decode("email")
        roles = try row.decode("roles", as: [String].self).compactMap(CaseworkerRole.init(rawValue:))
        emailNotifications = try row.decode("email_notifications")
        active = try row.decode("active")
        areaIDs = try row.decode("area_ids")
    }

    static func select(tenant: UUID, id: UUID?) -> SQLQuery {
        """
        SELECT c.*, coalesce((SELECT array_agg(m.area_id ORDER BY m.area_id) FROM area_members m
                              WHERE m.tenant_id = c.tenant_id AND m.caseworker_id = c.id), '{}') AS area_ids
        FROM caseworkers c
        WHERE c.tenant_id = \(tenant) AND (\(id)::uuid IS NULL OR c.id = \(id)::uuid)
        ORDER BY c.name, c.id
        """
    }
}

/// A new caseworker (`name` and `email` required; roles default to `caseworker`) or a change of
/// one (nil leaves a field as it is). Roles are stored without repeats, sorted.
public struct CaseworkerDraft: Decodable, Sendable {
    public var name: String?
    public var email: String?
    public var roles: [String]?
    public var emailNotifications: Bool?
    public var active: Bool?

    public init(name: String? = nil, email: String? = nil, roles: [String]? = nil, emailNotifications: Bool? = nil, active: Bool? = nil) {
        self.name = name
        self.email = email
        self.roles = roles
        self.emailNotifications = emailNotifications
        self.active = active
    }

    enum CodingKeys: String, CodingKey {
        case name, email, roles, active
        case emailNotifications = "email_notifications"
    }

    public func problems() -> [AdminError.FieldError] {
        var errors = Check.name(name)
        if let email {
            let parts = email.split(separator: "@", omittingEmptySubsequences: false)
            if email.utf8.count > 254 || parts.count != 2 || parts[0].isEmpty || !parts[1].contains(".")
                || email.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 }) {
                errors.append(.init(field: "email", code: "invalid-email", message: "is not an e-mail address"))
            }
        }
        if let roles, roles.isEmpty || roles.contains(where: { CaseworkerRole(rawValue: $0) == nil }) {
            errors.append(.init(field: "roles", code: "invalid", message: "must be a non-empty list of caseworker and admin"))
        }
        return errors
    }

    var normalizedRoles: [String]? { roles.map { Array(Set($0)).sorted() } }

    /// The fields it changes, for the audit entry.
    var fields: [String] {
        [("name", name != nil), ("email", email != nil), ("roles", roles != nil), ("email_notifications", emailNotifications != nil),
         ("active", active != nil)].filter(\.1).map(\.0)
    }
}

extension AdminStore {
    public func createCaseworker(tenant: UUID, _ draft: CaseworkerDraft) async throws -> Caseworker {
        try require(Check.required([("name", draft.name), ("email", draft.email)]) + draft.problems())
        let roles = draft.normalizedRoles ?? [CaseworkerRole.caseworker.rawValue]
        return try await change { tx in
            let rows = try await tx.query("""
                INSERT INTO caseworkers (tenant_id, name, email, roles, email_notifications)
                VALUES (\(tenant), \(draft.name), \(draft.email), \(roles)::text[], coalesce(\(draft.emailNotifications), true)) RETURNING id
                """)
            let id = try rows[0].decode("id", as: UUID.self)
            try await Audit.record(audit(tenant, "caseworker.create", "caseworker", id, ["roles": roles.joined(separator: ",")]), in: tx)
            return try await caseworker(tenant: tenant, id: id, in: tx)
        }
    }

    public func createCaseworker(tenant: UUID, name: String, email: String, roles: [CaseworkerRole] = [.caseworker],
                                 emailNotifications: Bool = true) async throws -> Caseworker {
        try await createCaseworker(tenant: tenant, CaseworkerDraft(name: name, email: email, roles: roles.map(\.rawValue),
                                                                   emailNotifications: emailNotifications))
    }

    /// Changes a caseworker. The acting admin cannot deactivate themselves or drop their own
    /// admin role (nobody would be left to undo it).
    public func updateCaseworker(tenant: UUID, id: UUID, _ draft: CaseworkerDraft) async throws -> Caseworker {
        try require(draft.problems())
        let roles = draft.normalizedRoles
        if id == actor.id && (draft.active == false || (roles.map { !$0.contains(CaseworkerRole.admin.rawValue) } ?? false)) {
            throw AdminError.conflict("cannot-demote-self", "Admins cannot deactivate themselves or drop their own admin role.")
        }
        return try await change { tx in
            let rows = try await tx.query("""
                UPDATE caseworkers SET name = coalesce(\(draft.name), name), email = coalesce(\(draft.email), email),
                       roles = coalesce(\(roles)::text[], roles), email_notifications = coalesce(\(draft.emailNotifications), email_notifications),
                       active = coalesce(\(draft.active), active), updated_at = now()
                WHERE tenant_id = \(tenant) AND id = \(id) RETURNING id
                """)
            if rows.isEmpty { throw AdminError.notFound("caseworker") }
            try await Audit.record(audit(tenant, draft.active == false ? "caseworker.deactivate" : "caseworker.update", "caseworker", id,
                                         ["fields": draft.fields.joined(separator: ",")]), in: tx)
            return try await caseworker(tenant: tenant, id: id, in: tx)
        }
    }

    public func listCaseworkers(tenant: UUID) async throws -> [Caseworker] {
        try await pool.query(Caseworker.select(tenant: tenant, id: nil)).map(Caseworker.init)
    }

    public func caseworker(tenant: UUID, id: UUID) async throws -> Caseworker {
        guard let row = try await pool.query(Caseworker.select(tenant: tenant, id: id)).first else { throw AdminError.notFound("caseworker") }
        return try Caseworker(row)
    }

    func caseworker(tenant: UUID, id: UUID, in tx: Transaction) async throws -> Caseworker {
        guard let row = try await tx.query(Caseworker.select(tenant: tenant, id: id)).first else { throw AdminError.notFound("caseworker") }
        return try Caseworker(row)
    }

    /// The id of the caseworker with this id or e-mail address (the CLI's `--caseworker`, `--member`).
    public func caseworkerID(tenant: UUID, _ idOrEmail: String) async throws -> UUID {
        let id = UUID(uuidString: idOrEmail)
        let rows = try await pool.query("""
            SELECT id FROM caseworkers
            WHERE tenant_id = \(tenant) AND CASE WHEN \(id)::uuid IS NULL THEN lower(email) = lower(\(idOrEmail)) ELSE id = \(id)::uuid END
            """)
        guard let row = rows.first else { throw AdminError(.notFound, code: "caseworker-not-found", message: "no caseworker '\(idOrEmail)' in this tenant") }
        return try row.decode("id")
    }

    // MARK: Tokens

    /// Issues a bearer token for a caseworker of the tenant; the secret is in the answer only.
    public func createCaseworkerToken(tenant: UUID, caseworker: UUID, label: String = "", expiresAt: Date? = nil) async throws -> IssuedToken {
        if label.count > 200 { throw AdminError.invalid("label", "too-long", "must be at most 200 characters") }
        if let expiresAt, expiresAt <= Date() { throw AdminError.invalid("expires_at", "in-the-past", "must be in the future") }
        let secret = SecretToken.generate(.caseworkerToken)
        return try await change { tx in
            let owner = try await tx.query("SELECT id FROM caseworkers WHERE tenant_id = \(tenant) AND id = \(caseworker)")
            if owner.isEmpty { throw AdminError.notFound("caseworker") }
            let rows = try await tx.query("""
                INSERT INTO caseworker_tokens (tenant_id, caseworker_id, token_hash, label, expires_at)
                VALUES (\(tenant), \(caseworker), \(Bytea(secret.hash)), \(label), \(expiresAt))
                RETURNING id, caseworker_id, label, created_at, expires_at, last_used_at, revoked_at
                """)
            let token = try CaseworkerToken(rows[0])
            try await Audit.record(audit(tenant, "token.create", "caseworker_token", token.id, ["caseworker_id": caseworker.lowercased]), in: tx)
            return IssuedToken(token: token, secret: secret.value)
        }
    }

    public func tokens(tenant: UUID) async throws -> [CaseworkerToken] {
        try await pool.query("SELECT id, caseworker_id, label, created_at, expires_at, last_used_at, revoked_at FROM caseworker_tokens WHERE tenant_id = \(tenant) ORDER BY created_at, id").map(CaseworkerToken.init)
    }

    /// Revokes a token (again: nothing changes, the first revocation time stays).
    public func revokeToken(tenant: UUID, id: UUID) async throws -> CaseworkerToken {
        try await change { tx in
            let rows = try await tx.query("""
                UPDATE caseworker_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id = \(tenant) AND id = \(id)
                RETURNING id, caseworker_id, label, created_at, expires_at, last_used_at, revoked_at
                """)
            guard let row = rows.first else { throw AdminError.notFound("token") }
            try await Audit.record(audit(tenant, "token.revoke", "caseworker_token", id), in: tx)
            return try CaseworkerToken(row)
        }
    }
}

/// A caseworker token as listed: never its secret or hash.
public struct CaseworkerToken: Encodable, Sendable, Equatable {
    public var id: UUID
    public var caseworkerID: UUID
    public var label: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, label
        case caseworkerID = "caseworker_id"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case lastUsedAt = "last_used_at"
        case revokedAt = "revoked_at"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeID(id, forKey: .id)
        try c.encodeID(caseworkerID, forKey: .caseworkerID)
        try c.encode(label, forKey: .label)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encodeOrNull(expiresAt, forKey: .expiresAt)
        try c.encodeOrNull(lastUsedAt, forKey: .lastUsedAt)
        try c.encodeOrNull(revokedAt, forKey: .revokedAt)
    }

    init(_ row: PostgresRow) throws {
        id = try row.decode("id")
        caseworkerID = try row.decode("caseworker_id")
        label = try row.decode("label")
        createdAt = try row.decode("created_at")
        expiresAt = try row.decode("expires_at", as: Date?.self)
        lastUsedAt = try row.decode("last_used_at", as: Date?.self)
        revokedAt = try row.decode("revoked_at", as: Date?.self)
    }
}

/// A token just issued: the only time its secret (`token`) is shown.
public struct IssuedToken: Encodable, Sendable {
    public var token: CaseworkerToken
    public var secret: String

    enum CodingKeys: String, CodingKey { case token }

    public func encode(to encoder: Encoder) throws {
        try token.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(secret, forKey: .token)
    }

    public var id: UUID { token.id }
}
