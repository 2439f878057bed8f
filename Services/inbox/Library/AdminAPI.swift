import Domain
import FoundationEssentials
import HTTPServer
import JobQueue
import Postgres

/// The tenant admin API (BIS-Admin), `/v1/admin/...`: role `admin`, own tenant only. Every
/// change writes an audit entry in its transaction. Ids of another tenant are 404.
struct AdminAPI: Sendable {
    let pool: PostgresPool
    /// Notes each token's use (`last_used_at`); nil records nothing.
    let tokenUse: CredentialUseRecorder?
    let queue: JobQueue
    let store: ApplicationStore
    let assigner: AreaAssigner

    typealias AdminHandler = @Sendable (RequestContext, Principal) async throws -> HTTPResponse

    func register(on router: inout Router) {
        func admin(_ method: HTTPMethod, _ path: String, _ handler: @escaping AdminHandler) {
            router.add(method, path, bodyLimit: method == .get ? nil : 256 * 1024) { context in
                let p = try await Principal.authenticate(context.request, pool: self.pool, lastUse: self.tokenUse)
                try p.requireAdmin()
                return try await handler(context, p)
            }
        }
        admin(.get, "/v1/admin/tenant") { _, p in try await self.tenant(p) }
        admin(.patch, "/v1/admin/tenant") { c, p in try await self.updateTenant(c, p) }

        admin(.get, "/v1/admin/services") { _, p in try await self.services(p) }
        admin(.post, "/v1/admin/services") { c, p in try await self.createService(c, p) }
        admin(.patch, "/v1/admin/services/:id") { c, p in try await self.updateService(c, p) }
        admin(.get, "/v1/admin/services/:id/rules") { c, p in try await self.rules(c, p) }
        admin(.put, "/v1/admin/services/:id/rules") { c, p in try await self.replaceRules(c, p) }

        admin(.get, "/v1/admin/areas") { _, p in try await self.areas(p) }
        admin(.post, "/v1/admin/areas") { c, p in try await self.createArea(c, p) }
        admin(.patch, "/v1/admin/areas/:id") { c, p in try await self.updateArea(c, p) }
        admin(.put, "/v1/admin/areas/:id/members") { c, p in try await self.replaceMembers(c, p) }

        admin(.get, "/v1/admin/caseworkers") { _, p in try await self.caseworkers(p) }
        admin(.post, "/v1/admin/caseworkers") { c, p in try await self.createCaseworker(c, p) }
        admin(.patch, "/v1/admin/caseworkers/:id") { c, p in try await self.updateCaseworker(c, p) }
        admin(.post, "/v1/admin/caseworkers/:id/tokens") { c, p in try await self.issueToken(c, p) }
        admin(.get, "/v1/admin/tokens") { _, p in try await self.tokens(p) }
        admin(.post, "/v1/admin/tokens/:id/revoke") { c, p in try await self.revokeToken(c, p) }

        admin(.get, "/v1/admin/intake-clients") { _, p in try await self.intakeClients(p) }
        admin(.post, "/v1/admin/intake-clients") { c, p in try await self.issueIntakeClient(c, p) }
        admin(.post, "/v1/admin/intake-clients/:id/revoke") { c, p in try await self.revokeIntakeClient(c, p) }

        admin(.get, "/v1/admin/unroutable") { c, p in try await self.unroutable(c, p) }
        admin(.get, "/v1/admin/dead-letters") { c, p in try await self.deadLetters(c, p) }
        admin(.post, "/v1/admin/dead-letters/replay") { c, p in try await self.replay(c, p) }
        admin(.get, "/v1/admin/audit") { c, p in try await self.auditLog(c, p) }
    }

    static func notFound(_ what: String) -> HTTPError {
        HTTPError(.notFound, code: "\(what)-not-found", detail: "No \(what.replacing("-", with: " ")) with this id in your tenant.")
    }

    /// Runs `body` in a transaction and maps constraint violations to 409/422.
    func change<T: Sendable>(_ body: (Transaction) async throws -> T) async throws -> T {
        do {
            return try await pool.withTransaction(.init(), body)
        } catch let error as PostgresError {
            if error.code == .invalidArgument {
                // A text value with U+0000, which PostgreSQL cannot store.
                throw HTTPError.validationFailed([.init(field: "", code: "invalid-character", message: "text must not contain NUL characters")])
            }
            let constraint = error.constraint ?? "constraint"
            if error.isUniqueViolation {
                throw HTTPError(.conflict, code: "already-exists", detail: "Something with this name or key already exists (\(constraint)).")
            }
            switch error.sqlState {
            case "23503": throw HTTPError.validationFailed([.init(field: "", code: "unknown-reference", message: "refers to something that does not exist in your tenant (\(constraint))")])
            case "23514", "22P02", "23502", "22001", "22021", "22P05", "22003", "22008", "22007": throw HTTPError.validationFailed([.init(field: "", code: "invalid", message: "violates \(constraint)")])
            default: throw error
            }
        }
    }

    func audit(_ p: Principal, _ action: String, _ kind: String, _ id: String, _ context: RequestContext, _ details: [String: String] = [:], in tx: Transaction) async throws {
        try await Audit.record(p.audit(action, kind, id, requestID: context.requestID, details: details), in: tx)
    }

    static func single(_ rows: PostgresRows, notFound: HTTPError) throws -> HTTPResponse {
        guard let row = rows.first, let text = try row.decode("document", as: String?.self) else { throw notFound }
        return API.rawJSON(text)
    }

    // MARK: Tenant policy

    func tenant(_ p: Principal) async throws -> HTTPResponse {
        try Self.single(try await pool.query("""
            SELECT json_build_object('id', id, 'slug', slug, 'name', name, 'municipality_key', municipality_key,
                'reference_prefix', reference_prefix, 'decisions_via_back_channel', decisions_via_back_channel,
                'fallback_area_id', fallback_area_id, 'locale', locale)::text AS document
            FROM tenants WHERE id = \(p.tenantID)
            """), notFound: Self.notFound("tenant"))
    }

    struct TenantPatch: Decodable, Validatable {
        var name: String?
        var decisionsViaBackChannel: Bool?
        var fallbackAreaID: UUID??
        var locale: String?
        enum CodingKeys: String, CodingKey {
            case name, locale
            case decisionsViaBackChannel = "decisions_via_back_channel"
            case fallbackAreaID = "fallback_area_id"
        }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            decisionsViaBackChannel = try c.decodeIfPresent(Bool.self, forKey: .decisionsViaBackChannel)
            locale = try c.decodeIfPresent(String.self, forKey: .locale)
            if c.contains(.fallbackAreaID) { fallbackAreaID = .some(try c.decodeIfPresent(UUID.self, forKey: .fallbackAreaID)) }
        }
        func validate() -> [Problem.FieldError] {
            var errors: [Problem.FieldError] = []
            if let name, name.isEmpty || name.count > 200 { errors.append(.init(field: "name", code: "invalid", message: "must be 1 to 200 characters")) }
            if let locale, !(locale.utf8.count == 2 || locale.utf8.count == 5) || !locale.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || $0 == "-") }) {
                errors.append(.init(field: "locale", code: "invalid", message: "must be a locale such as de or de-DE"))
            }
            return errors
        }
    }

    func updateTenant(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let patch = try context.decodeJSON(TenantPatch.self)
        try await change { tx in
            if let fallback = patch.fallbackAreaID, let area = fallback {
                guard try await assigner.fit(of: area, tenant: p.tenantID, service: nil, in: tx) == .fits else {
                    throw HTTPError.validationFailed([.init(field: "fallback_area_id", code: "unknown-area", message: "is not an active area of your tenant")])
                }
            }
            let setFallback = patch.fallbackAreaID != nil
            try await tx.query("""
                UPDATE tenants SET name = coalesce(\(patch.name), name),
                       decisions_via_back_channel = coalesce(\(patch.decisionsViaBackChannel), decisions_via_back_channel),
                       locale = coalesce(\(patch.locale), locale),
                       fallback_area_id = CASE WHEN \(setFallback)::boolean THEN \(patch.fallbackAreaID ?? nil)::uuid ELSE fallback_area_id END,
                       updated_at = now()
                WHERE id = \(p.tenantID)
                """)
            var fields: [String] = []
            if patch.name != nil { fields.append("name") }
            if patch.decisionsViaBackChannel != nil { fields.append("decisions_via_back_channel") }
            if patch.locale != nil { fields.append("locale") }
            if setFallback { fields.append("fallback_area_id") }
            try await audit(p, "tenant.update", "tenant", p.tenantID.lowercased, context, ["fields": fields.joined(separator: ",")], in: tx)
        }
        return try await tenant(p)
    }

    // MARK: Services

    func services(_ p: Principal) async throws -> HTTPResponse {
        let rows = try await pool.query("""
            SELECT coalesce(json_agg(json_build_object('id', id, 'key', key, 'name', name, 'leika_key', leika_key, 'active', active,
                'document_trust_level', document_trust_level, 'retention_days', retention_days) ORDER BY key), '[]'::json)::text AS document
            FROM services WHERE tenant_id = \(p.tenantID)
            """)
        return API.rawJSON("{\"items\":" + (try rows[0].decode("document", as: String.self)) + "}")
    }

    func service(_ id: UUID, _ p: Principal) async throws -> HTTPResponse {
        try Self.single(try await pool.query("""
            SELECT json_build_object('id', id, 'key', key, 'name', name, 'leika_key', leika_key, 'active', active,
                'document_trust_level', document_trust_level, 'retention_days', retention_days)::text AS document
            FROM services WHERE tenant_id = \(p.tenantID) AND id = \(id)
            """), notFound: Self.notFound("service"))
    }

    struct ServiceBody: Decodable, Validatable {
        var key: String?
        var name: String?
        var leikaKey: String?
        var active: Bool?
        var documentTrustLevel: String?
        var retentionDays: Int?
        enum CodingKeys: String, CodingKey {
            case key, name, active
            case leikaKey = "leika_key"
            case documentTrustLevel = "document_trust_level"
            case retentionDays = "retention_days"
        }
        func validate() -> [Problem.FieldError] {
            var errors: [Problem.FieldError] = []
            if let key, !Self.isKey(key) { errors.append(.init(field: "key", code: "invalid", message: "must be 1 to 64 of a-z 0-9 . _ - starting with a letter or digit")) }
            if let name, name.isEmpty || name.count > 200 { errors.append(.init(field: "name", code: "invalid", message: "must be 1 to 200 characters")) }
            if let leikaKey, !(leikaKey.utf8.count == 14 && leikaKey.utf8.allSatisfy { (48...57).contains($0) }) {
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
        static func isKey(_ key: String) -> Bool {
            let bytes = Array(key.utf8)
            guard (1...64).contains(bytes.count) else { return false }
            func ok(_ b: UInt8, first: Bool) -> Bool {
                (97...122).contains(b) || (48...57).contains(b) || (!first && (b == 46 || b == 95 || b == 45))
            }
            return ok(bytes[0], first: true) && bytes.dropFirst().allSatisfy { ok($0, first: false) }
        }
    }

    func createService(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let body = try context.decodeJSON(ServiceBody.self)
        var missing: [Problem.FieldError] = []
        if body.key == nil { missing.append(.init(field: "key", code: "missing", message: "is required")) }
        if body.name == nil { missing.append(.init(field: "name", code: "missing", message: "is required")) }
        if !missing.isEmpty { throw HTTPError.validationFailed(missing) }
        let id = try await change { tx -> UUID in
            let rows = try await tx.query("""
                INSERT INTO services (tenant_id, key, name, leika_key, active, document_trust_level, retention_days)
                VALUES (\(p.tenantID), \(body.key!), \(body.name!), \(body.leikaKey), coalesce(\(body.active), true),
                        coalesce(\(body.documentTrustLevel), 'substantial'), coalesce(\(body.retentionDays), 365))
                RETURNING id
                """)
            let id = try rows[0].decode("id", as: UUID.self)
            try await audit(p, "service.create", "service", id.lowercased, context, in: tx)
            return id
        }
        var response = try await service(id, p)
        response.status = .created
        return response
    }

    func updateService(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let id = try API.uuid(context, "id", notFound: Self.notFound("service"))
        let body = try context.decodeJSON(ServiceBody.self)
        if body.key != nil { throw HTTPError.validationFailed([.init(field: "key", code: "immutable", message: "cannot be changed")]) }
        try await change { tx in
            let rows = try await tx.query("""
                UPDATE services SET name = coalesce(\(body.name), name), leika_key = coalesce(\(body.leikaKey), leika_key),
                       active = coalesce(\(body.active), active), document_trust_level = coalesce(\(body.documentTrustLevel), document_trust_level),
                       retention_days = coalesce(\(body.retentionDays), retention_days), updated_at = now()
                WHERE tenant_id = \(p.tenantID) AND id = \(id) RETURNING id
                """)
            if rows.isEmpty { throw Self.notFound("service") }
            try await audit(p, body.active == false ? "service.deactivate" : "service.update", "service", id.lowercased, context, in: tx)
        }
        return try await service(id, p)
    }

    // MARK: Rules (per service, ordered)

    func rules(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let id = try API.uuid(context, "id", notFound: Self.notFound("service"))
        return try Self.single(try await pool.query("""
            SELECT json_build_object('service_id', s.id, 'items', coalesce((SELECT json_agg(json_build_object(
                    'id', r.id, 'area_id', r.area_id, 'position', r.position, 'kind', r.kind, 'definition', r.definition) ORDER BY r.position)
                FROM area_rules r WHERE r.tenant_id = s.tenant_id AND r.service_id = s.id), '[]'::json))::text AS document
            FROM services s WHERE s.tenant_id = \(p.tenantID) AND s.id = \(id)
            """), notFound: Self.notFound("service"))
    }

    struct RulesBody: Decodable {
        var rules: [RuleInput]
    }

    func replaceRules(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let id = try API.uuid(context, "id", notFound: Self.notFound("service"))
        let body = try context.decodeJSON(RulesBody.self)
        var errors: [Problem.FieldError] = []
        for (index, rule) in body.rules.enumerated() { errors += rule.validate(prefix: "rules[\(index)]") }
        if body.rules.count > 1000 { errors.append(.init(field: "rules", code: "too-many", message: "at most 1000 rules")) }
        if !errors.isEmpty { throw HTTPError.validationFailed(errors) }
        try await change { tx in
            let service = try await tx.query("SELECT id FROM services WHERE tenant_id = \(p.tenantID) AND id = \(id) FOR UPDATE")
            if service.isEmpty { throw Self.notFound("service") }
            for (index, rule) in body.rules.enumerated() {
                let area = try await tx.query("""
                    SELECT service_id FROM responsibility_areas WHERE tenant_id = \(p.tenantID) AND id = \(rule.areaID)
                    """)
                guard let row = area.first else {
                    throw HTTPError.validationFailed([.init(field: "rules[\(index)].area_id", code: "unknown-area", message: "is not an area of your tenant")])
                }
                if let owner = try row.decode("service_id", as: UUID?.self), owner != id {
                    throw HTTPError.validationFailed([.init(field: "rules[\(index)].area_id", code: "area-of-other-service",
                                                           message: "belongs to another service")])
                }
            }
            try await tx.query("DELETE FROM area_rules WHERE tenant_id = \(p.tenantID) AND service_id = \(id)")
            for (position, rule) in body.rules.enumerated() {
                try await tx.query("""
                    INSERT INTO area_rules (tenant_id, service_id, area_id, position, kind, definition)
                    VALUES (\(p.tenantID), \(id), \(rule.areaID), \(position), \(rule.kind), \(PostgresRawJSON(rule.definitionJSON))::jsonb)
                    """)
            }
            try await audit(p, "rules.replace", "service", id.lowercased, context, ["rules": String(body.rules.count)], in: tx)
        }
        return try await rules(context, p)
    }

    // MARK: Areas

    func areas(_ p: Principal) async throws -> HTTPResponse {
        let rows = try await pool.query("""
            SELECT coalesce(json_agg(json_build_object('id', ra.id, 'service_id', ra.service_id, 'name', ra.name, 'active', ra.active,
                'member_ids', coalesce((SELECT json_agg(m.caseworker_id ORDER BY m.caseworker_id) FROM area_members m
                    WHERE m.tenant_id = ra.tenant_id AND m.area_id = ra.id), '[]'::json)) ORDER BY ra.name, ra.id), '[]'::json)::text AS document
            FROM responsibility_areas ra WHERE ra.tenant_id = \(p.tenantID)
            """)
        return API.rawJSON("{\"items\":" + (try rows[0].decode("document", as: String.self)) + "}")
    }

    func area(_ id: UUID, _ p: Principal) async throws -> HTTPResponse {
        try Self.single(try await pool.query("""
            SELECT json_build_object('id', ra.id, 'service_id', ra.service_id, 'name', ra.name, 'active', ra.active,
                'member_ids', coalesce((SELECT json_agg(m.caseworker_id ORDER BY m.caseworker_id) FROM area_members m
                    WHERE m.tenant_id = ra.tenant_id AND m.area_id = ra.id), '[]'::json))::text AS document
            FROM responsibility_areas ra WHERE ra.tenant_id = \(p.tenantID) AND ra.id = \(id)
            """), notFound: Self.notFound("area"))
    }

    struct AreaBody: Decodable, Validatable {
        var name: String?
        var serviceID: UUID?
        var active: Bool?
        var memberIDs: [UUID]?
        enum CodingKeys: String, CodingKey {
            case name, active
            case serviceID = "service_id"
            case memberIDs = "member_ids"
        }
        func validate() -> [Problem.FieldError] {
            if let name, name.isEmpty || name.count > 200 { return [.init(field: "name", code: "invalid", message: "must be 1 to 200 characters")] }
            return []
        }
    }

    func createArea(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let body = try context.decodeJSON(AreaBody.self)
        guard let name = body.name else { throw HTTPError.validationFailed([.init(field: "name", code: "missing", message: "is required")]) }
        let id = try await change { tx -> UUID in
            let rows = try await tx.query("""
                INSERT INTO responsibility_areas (tenant_id, service_id, name, active)
                VALUES (\(p.tenantID), \(body.serviceID), \(name), coalesce(\(body.active), true)) RETURNING id
                """)
            let id = try rows[0].decode("id", as: UUID.self)
            try await setMembers(area: id, members: body.memberIDs ?? [], p, in: tx)
            try await audit(p, "area.create", "area", id.lowercased, context, ["members": String((body.memberIDs ?? []).count)], in: tx)
            return id
        }
        var response = try await area(id, p)
        response.status = .created
        return response
    }

    func updateArea(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let id = try API.uuid(context, "id", notFound: Self.notFound("area"))
        let body = try context.decodeJSON(AreaBody.self)
        if body.serviceID != nil { throw HTTPError.validationFailed([.init(field: "service_id", code: "immutable", message: "cannot be changed")]) }
        try await change { tx in
            let rows = try await tx.query("""
                UPDATE responsibility_areas SET name = coalesce(\(body.name), name), active = coalesce(\(body.active), active), updated_at = now()
                WHERE tenant_id = \(p.tenantID) AND id = \(id) RETURNING id
                """)
            if rows.isEmpty { throw Self.notFound("area") }
            if let members = body.memberIDs { try await setMembers(area: id, members: members, p, in: tx) }
            try await audit(p, body.active == false ? "area.deactivate" : "area.update", "area", id.lowercased, context, in: tx)
        }
        return try await area(id, p)
    }

    struct MembersBody: Decodable {
        var caseworkerIDs: [UUID]
        enum CodingKeys: String, CodingKey { case caseworkerIDs = "caseworker_ids" }
    }

    func replaceMembers(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let id = try API.uuid(context, "id", notFound: Self.notFound("area"))
        let body = try context.decodeJSON(MembersBody.self)
        try await change { tx in
            let rows = try await tx.query("SELECT id FROM responsibility_areas WHERE tenant_id = \(p.tenantID) AND id = \(id) FOR UPDATE")
            if rows.isEmpty { throw Self.notFound("area") }
            try await setMembers(area: id, members: body.caseworkerIDs, p, in: tx)
            try await audit(p, "area.members", "area", id.lowercased, context, ["members": String(Set(body.caseworkerIDs).count)], in: tx)
        }
        return try await area(id, p)
    }

    private func setMembers(area: UUID, members: [UUID], _ p: Principal, in tx: Transaction) async throws {
        let unique = Array(Set(members))
        let known = try await tx.query("SELECT count(*)::integer AS n FROM caseworkers WHERE tenant_id = \(p.tenantID) AND id = ANY(\(unique)::uuid[])")
        guard try known[0].decode("n", as: Int.self) == unique.count else {
            throw HTTPError.validationFailed([.init(field: "caseworker_ids", code: "unknown-caseworker", message: "names a caseworker who is not in your tenant")])
        }
        try await tx.query("DELETE FROM area_members WHERE tenant_id = \(p.tenantID) AND area_id = \(area) AND NOT (caseworker_id = ANY(\(unique)::uuid[]))")
        try await tx.query("""
            INSERT INTO area_members (tenant_id, area_id, caseworker_id)
            SELECT \(p.tenantID), \(area), c FROM unnest(\(unique)::uuid[]) AS c ON CONFLICT DO NOTHING
            """)
    }

    // MARK: Caseworkers and tokens

    func caseworkers(_ p: Principal) async throws -> HTTPResponse {
        let rows = try await pool.query("""
            SELECT coalesce(json_agg(json_build_object('id', c.id, 'name', c.name, 'email', c.email, 'roles', c.roles,
                'email_notifications', c.email_notifications, 'active', c.active,
                'area_ids', coalesce((SELECT json_agg(m.area_id ORDER BY m.area_id) FROM area_members m
                    WHERE m.tenant_id = c.tenant_id AND m.caseworker_id = c.id), '[]'::json)) ORDER BY c.name, c.id), '[]'::json)::text AS document
            FROM caseworkers c WHERE c.tenant_id = \(p.tenantID)
            """)
        return API.rawJSON("{\"items\":" + (try rows[0].decode("document", as: String.self)) + "}")
    }

    func caseworker(_ id: UUID, _ p: Principal) async throws -> HTTPResponse {
        try Self.single(try await pool.query("""
            SELECT json_build_object('id', c.id, 'name', c.name, 'email', c.email, 'roles', c.roles,
                'email_notifications', c.email_notifications, 'active', c.active,
                'area_ids', coalesce((SELECT json_agg(m.area_id ORDER BY m.area_id) FROM area_members m
                    WHERE m.tenant_id = c.tenant_id AND m.caseworker_id = c.id), '[]'::json))::text AS document
            FROM caseworkers c WHERE c.tenant_id = \(p.tenantID) AND c.id = \(id)
            """), notFound: Self.notFound("caseworker"))
    }

    struct CaseworkerBody: Decodable, Validatable {
        var name: String?
        var email: String?
        var roles: [String]?
        var emailNotifications: Bool?
        var active: Bool?
        enum CodingKeys: String, CodingKey {
            case name, email, roles, active
            case emailNotifications = "email_notifications"
        }
        func validate() -> [Problem.FieldError] {
            var errors: [Problem.FieldError] = []
            if let name, name.isEmpty || name.count > 200 { errors.append(.init(field: "name", code: "invalid", message: "must be 1 to 200 characters")) }
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
    }

    func createCaseworker(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let body = try context.decodeJSON(CaseworkerBody.self)
        var missing: [Problem.FieldError] = []
        if body.name == nil { missing.append(.init(field: "name", code: "missing", message: "is required")) }
        if body.email == nil { missing.append(.init(field: "email", code: "missing", message: "is required")) }
        if !missing.isEmpty { throw HTTPError.validationFailed(missing) }
        let roles = Array(Set(body.roles ?? ["caseworker"])).sorted()
        let id = try await change { tx -> UUID in
            let rows = try await tx.query("""
                INSERT INTO caseworkers (tenant_id, name, email, roles, email_notifications)
                VALUES (\(p.tenantID), \(body.name!), \(body.email!), \(roles)::text[], coalesce(\(body.emailNotifications), true)) RETURNING id
                """)
            let id = try rows[0].decode("id", as: UUID.self)
            try await audit(p, "caseworker.create", "caseworker", id.lowercased, context, ["roles": roles.joined(separator: ",")], in: tx)
            return id
        }
        var response = try await caseworker(id, p)
        response.status = .created
        return response
    }

    func updateCaseworker(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let id = try API.uuid(context, "id", notFound: Self.notFound("caseworker"))
        let body = try context.decodeJSON(CaseworkerBody.self)
        let roles = body.roles.map { Array(Set($0)).sorted() }
        if id == p.id && (body.active == false || (roles != nil && !roles!.contains("admin"))) {
            throw HTTPError.conflict(code: "cannot-demote-self", detail: "Admins cannot deactivate themselves or drop their own admin role.")
        }
        try await change { tx in
            let rows = try await tx.query("""
                UPDATE caseworkers SET name = coalesce(\(body.name), name), email = coalesce(\(body.email), email),
                       roles = coalesce(\(roles)::text[], roles), email_notifications = coalesce(\(body.emailNotifications), email_notifications),
                       active = coalesce(\(body.active), active), updated_at = now()
                WHERE tenant_id = \(p.tenantID) AND id = \(id) RETURNING id
                """)
            if rows.isEmpty { throw Self.notFound("caseworker") }
            var fields: [String] = []
            if body.name != nil { fields.append("name") }
            if body.email != nil { fields.append("email") }
            if roles != nil { fields.append("roles") }
            if body.emailNotifications != nil { fields.append("email_notifications") }
            if body.active != nil { fields.append("active") }
            try await audit(p, body.active == false ? "caseworker.deactivate" : "caseworker.update", "caseworker", id.lowercased, context,
                            ["fields": fields.joined(separator: ",")], in: tx)
        }
        return try await caseworker(id, p)
    }

    struct TokenBody: Decodable, Validatable {
        var label: String?
        var expiresAt: Date?
        enum CodingKeys: String, CodingKey {
            case label
            case expiresAt = "expires_at"
        }
        func validate() -> [Problem.FieldError] {
            if let label, label.count > 200 { return [.init(field: "label", code: "too-long", message: "must be at most 200 characters")] }
            return []
        }
    }

    func issueToken(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let caseworker = try API.uuid(context, "id", notFound: Self.notFound("caseworker"))
        let body = context.request.body.isEmpty ? TokenBody(label: nil, expiresAt: nil) : try context.decodeJSON(TokenBody.self)
        let token = SecretToken.generate(.caseworkerToken)
        let document = try await change { tx -> String in
            let owner = try await tx.query("SELECT id FROM caseworkers WHERE tenant_id = \(p.tenantID) AND id = \(caseworker)")
            if owner.isEmpty { throw Self.notFound("caseworker") }
            let rows = try await tx.query("""
                INSERT INTO caseworker_tokens (tenant_id, caseworker_id, token_hash, label, expires_at)
                VALUES (\(p.tenantID), \(caseworker), \(Bytea(token.hash)), \(body.label ?? ""), \(body.expiresAt))
                RETURNING json_build_object('id', id, 'caseworker_id', caseworker_id, 'label', label, 'created_at', created_at,
                                            'expires_at', expires_at, 'token', \(token.value)::text)::text AS document
                """)
            let document = try rows[0].decode("document", as: String.self)
            try await audit(p, "token.create", "caseworker_token", "", context, ["caseworker_id": caseworker.lowercased], in: tx)
            return document
        }
        return API.rawJSON(document, status: .created)
    }

    func tokens(_ p: Principal) async throws -> HTTPResponse {
        let rows = try await pool.query("""
            SELECT coalesce(json_agg(json_build_object('id', id, 'caseworker_id', caseworker_id, 'label', label, 'created_at', created_at,
                'expires_at', expires_at, 'last_used_at', last_used_at, 'revoked_at', revoked_at) ORDER BY created_at, id), '[]'::json)::text AS document
            FROM caseworker_tokens WHERE tenant_id = \(p.tenantID)
            """)
        return API.rawJSON("{\"items\":" + (try rows[0].decode("document", as: String.self)) + "}")
    }

    func revokeToken(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let id = try API.uuid(context, "id", notFound: Self.notFound("token"))
        let document = try await change { tx -> String in
            let rows = try await tx.query("""
                UPDATE caseworker_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id = \(p.tenantID) AND id = \(id)
                RETURNING json_build_object('id', id, 'caseworker_id', caseworker_id, 'label', label, 'created_at', created_at,
                    'expires_at', expires_at, 'last_used_at', last_used_at, 'revoked_at', revoked_at)::text AS document
                """)
            guard let row = rows.first else { throw Self.notFound("token") }
            try await audit(p, "token.revoke", "caseworker_token", id.lowercased, context, in: tx)
            return try row.decode("document")
        }
        return API.rawJSON(document)
    }

    // MARK: Intake clients

    func intakeClients(_ p: Principal) async throws -> HTTPResponse {
        let rows = try await pool.query("""
            SELECT coalesce(json_agg(json_build_object('id', c.id, 'name', c.name, 'all_services', c.all_services,
                'service_keys', coalesce((SELECT json_agg(s.key ORDER BY s.key) FROM intake_client_services cs
                    JOIN services s ON s.tenant_id = cs.tenant_id AND s.id = cs.service_id
                    WHERE cs.tenant_id = c.tenant_id AND cs.intake_client_id = c.id), '[]'::json),
                'created_at', c.created_at, 'last_used_at', c.last_used_at, 'revoked_at', c.revoked_at) ORDER BY c.created_at, c.id), '[]'::json)::text AS document
            FROM intake_clients c WHERE c.tenant_id = \(p.tenantID)
            """)
        return API.rawJSON("{\"items\":" + (try rows[0].decode("document", as: String.self)) + "}")
    }

    struct IntakeClientBody: Decodable, Validatable {
        var name: String
        var serviceKeys: [String]?
        enum CodingKeys: String, CodingKey {
            case name
            case serviceKeys = "service_keys"
        }
        func validate() -> [Problem.FieldError] {
            var errors: [Problem.FieldError] = []
            if name.isEmpty || name.count > 200 { errors.append(.init(field: "name", code: "invalid", message: "must be 1 to 200 characters")) }
            if let serviceKeys, serviceKeys.isEmpty || serviceKeys.count > 200 {
                errors.append(.init(field: "service_keys", code: "invalid", message: "must list 1 to 200 service keys, or be left out for all services"))
            }
            return errors
        }
    }

    func issueIntakeClient(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let body = try context.decodeJSON(IntakeClientBody.self)
        let key = SecretToken.generate(.intakeClientKey)
        let document = try await change { tx -> String in
            let rows = try await tx.query("""
                INSERT INTO intake_clients (tenant_id, name, key_hash, all_services)
                VALUES (\(p.tenantID), \(body.name), \(Bytea(key.hash)), \(body.serviceKeys == nil)) RETURNING id
                """)
            let id = try rows[0].decode("id", as: UUID.self)
            if let keys = body.serviceKeys {
                let unique = Array(Set(keys))
                let inserted = try await tx.query("""
                    INSERT INTO intake_client_services (tenant_id, intake_client_id, service_id)
                    SELECT tenant_id, \(id), id FROM services WHERE tenant_id = \(p.tenantID) AND key = ANY(\(unique)::text[])
                    """)
                if inserted.affectedRows != unique.count {
                    throw HTTPError.validationFailed([.init(field: "service_keys", code: "unknown-service", message: "names a service that is not in your tenant")])
                }
            }
            try await audit(p, "intake_client.create", "intake_client", id.lowercased, context,
                            ["services": body.serviceKeys.map { String(Set($0).count) } ?? "all"], in: tx)
            return try await tx.query("""
                SELECT json_build_object('id', id, 'name', name, 'all_services', all_services, 'service_keys', \(body.serviceKeys ?? [])::text[],
                    'created_at', created_at, 'key', \(key.value)::text)::text AS document
                FROM intake_clients WHERE tenant_id = \(p.tenantID) AND id = \(id)
                """)[0].decode("document")
        }
        return API.rawJSON(document, status: .created)
    }

    func revokeIntakeClient(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let id = try API.uuid(context, "id", notFound: Self.notFound("intake-client"))
        let document = try await change { tx -> String in
            let rows = try await tx.query("""
                UPDATE intake_clients SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id = \(p.tenantID) AND id = \(id)
                RETURNING json_build_object('id', id, 'name', name, 'all_services', all_services, 'created_at', created_at,
                    'last_used_at', last_used_at, 'revoked_at', revoked_at)::text AS document
                """)
            guard let row = rows.first else { throw Self.notFound("intake-client") }
            try await audit(p, "intake_client.revoke", "intake_client", id.lowercased, context, in: tx)
            return try row.decode("document")
        }
        return API.rawJSON(document)
    }

    // MARK: Unroutable, dead letters, audit

    func unroutable(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let limit = try API.queryInt(context.request.queryParameters["limit"], name: "limit", default: 100, range: 1...500)
        let rows = try await pool.query("""
            SELECT coalesce(json_agg(x.item ORDER BY x.received_at DESC, x.id DESC), '[]'::json)::text AS document FROM (
                SELECT a.id, a.received_at, json_build_object('id', a.id, 'reference', a.reference, 'status', a.status, 'version', a.version,
                    'service', json_build_object('id', s.id, 'key', s.key, 'name', s.name), 'received_at', a.received_at) AS item
                FROM applications a JOIN services s ON s.tenant_id = a.tenant_id AND s.id = a.service_id
                WHERE a.tenant_id = \(p.tenantID) AND a.status = 'unroutable'
                ORDER BY a.received_at DESC, a.id DESC LIMIT \(limit)
            ) x
            """)
        return API.rawJSON("{\"items\":" + (try rows[0].decode("document", as: String.self)) + "}")
    }

    struct DeadLetterView: Encodable {
        var id: Int64
        var jobID: Int64
        var queue: String
        var attempts: Int
        var maxAttempts: Int
        var lastError: String
        var createdAt: Date
        var diedAt: Date
        var payload: String
        enum CodingKeys: String, CodingKey {
            case id, queue, attempts, payload
            case jobID = "job_id"
            case maxAttempts = "max_attempts"
            case lastError = "last_error"
            case createdAt = "created_at"
            case diedAt = "died_at"
        }
    }

    func deadLetters(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let query = context.request.queryParameters
        let limit = try API.queryInt(query["limit"], name: "limit", default: 100, range: 1...1000)
        let after = try API.queryInt(query["after_id"], name: "after_id", default: 0, range: 0...Int.max)
        let letters = try await queue.deadLetters(tenantID: p.tenantID, afterID: Int64(after), limit: limit)
        let items = letters.map {
            DeadLetterView(id: $0.id, jobID: $0.jobID, queue: $0.queue.rawValue, attempts: $0.attempts, maxAttempts: $0.maxAttempts,
                           lastError: $0.lastError, createdAt: $0.createdAt, diedAt: $0.diedAt,
                           payload: String(decoding: $0.payload, as: UTF8.self))
        }
        return try .json(["items": items], headers: ["Cache-Control": "no-store"])
    }

    struct ReplayBody: Decodable, Validatable {
        var ids: [Int64]
        func validate() -> [Problem.FieldError] {
            (ids.isEmpty || ids.count > 1000) ? [.init(field: "ids", code: "invalid", message: "must list 1 to 1000 dead letter ids")] : []
        }
    }

    func replay(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let body = try context.decodeJSON(ReplayBody.self)
        let jobIDs = try await queue.replay(deadLetterIDs: body.ids, tenantID: p.tenantID)
        try await Audit.record(p.audit("dead_letter.replay", "dead_letter", nil, requestID: context.requestID,
                                       details: ["requested": String(body.ids.count), "replayed": String(jobIDs.count)]), pool: pool)
        return try .json(["replayed_job_ids": jobIDs], headers: ["Cache-Control": "no-store"])
    }

    func auditLog(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let query = context.request.queryParameters
        let application = try API.queryUUID(query["application_id"], name: "application_id")
        let caseworker = try API.queryUUID(query["caseworker_id"], name: "caseworker_id")
        let from = try API.queryDate(query["from"], name: "from")
        let to = try API.queryDate(query["to"], name: "to")
        let limit = try API.queryInt(query["limit"], name: "limit", default: 100, range: 1...1000)
        let after = try API.queryInt(query["after_id"], name: "after_id", default: 0, range: 0...Int.max)
        let rows = try await pool.query("""
            SELECT coalesce(json_agg(x.item ORDER BY x.id), '[]'::json)::text AS document, max(x.id) AS last_id, count(*)::integer AS n FROM (
                SELECT l.id, json_build_object('id', l.id, 'occurred_at', l.occurred_at, 'actor_kind', l.actor_kind, 'actor_id', l.actor_id,
                    'action', l.action, 'object_kind', l.object_kind, 'object_id', l.object_id, 'application_id', l.application_id,
                    'request_id', l.request_id, 'details', l.details) AS item
                FROM audit_log l
                WHERE l.tenant_id = \(p.tenantID) AND l.id > \(Int64(after))
                  AND (\(application)::uuid IS NULL OR l.application_id = \(application))
                  AND (\(caseworker)::uuid IS NULL OR (l.actor_kind = 'caseworker' AND l.actor_id = \(caseworker)))
                  AND (\(from)::timestamptz IS NULL OR l.occurred_at >= \(from))
                  AND (\(to)::timestamptz IS NULL OR l.occurred_at < \(to))
                ORDER BY l.id LIMIT \(limit)
            ) x
            """)
        let items = try rows[0].decode("document", as: String.self)
        let count = try rows[0].decode("n", as: Int.self)
        let next = count == limit ? (try rows[0].decode("last_id", as: Int64?.self)).map(String.init) ?? "null" : "null"
        return API.rawJSON("{\"items\":\(items),\"next_after_id\":\(next)}")
    }
}

/// A routing rule as an admin sends it; checked at save time against the kinds of the schema:
/// `municipality_keys` `{"values": ["05370016", …]}` (8 digits), `postal_codes` `{"values": ["52525", "5253"]}`
/// (1 to 5 digits, a prefix), `form_field` `{"field": "a.b", "values": [json, …]}`, `default` `{}`.
struct RuleInput: Decodable, Sendable {
    var areaID: UUID
    var kind: String
    var definition: RuleDefinition

    enum CodingKeys: String, CodingKey {
        case areaID = "area_id"
        case kind, definition
    }

    struct RuleDefinition: Decodable, Sendable {
        var values: [RuleValue]?
        var field: String?
        var extraKeys: [String]

        struct AnyKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            values = try c.decodeIfPresent([RuleValue].self, forKey: AnyKey(stringValue: "values"))
            field = try c.decodeIfPresent(String.self, forKey: AnyKey(stringValue: "field"))
            extraKeys = c.allKeys.map(\.stringValue).filter { $0 != "values" && $0 != "field" }
        }
    }

    /// A value of a rule: strings for keys and codes; any JSON scalar for form fields.
    struct RuleValue: Decodable, Sendable {
        var json: String
        var string: String?
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) {
                string = s
                json = Self.quote(s)
            } else if let b = try? c.decode(Bool.self) {
                json = b ? "true" : "false"
            } else if let i = try? c.decode(Int64.self) {
                json = String(i)
            } else if let d = try? c.decode(Double.self), d.isFinite {
                json = String(d)
            } else if c.decodeNil() {
                json = "null"
            } else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "a rule value must be a string, number, boolean or null")
            }
        }
        static func quote(_ s: String) -> String {
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                default:
                    if scalar.value < 0x20 {
                        let hex = String(scalar.value, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    } else { out.unicodeScalars.append(scalar) }
                }
            }
            return out + "\""
        }
    }

    func validate(prefix: String) -> [Problem.FieldError] {
        var errors: [Problem.FieldError] = []
        func fail(_ field: String, _ code: String, _ message: String) { errors.append(.init(field: "\(prefix).\(field)", code: code, message: message)) }
        func digits(_ s: String, _ range: ClosedRange<Int>) -> Bool { range.contains(s.utf8.count) && s.utf8.allSatisfy { (48...57).contains($0) } }
        let values = definition.values ?? []
        switch kind {
        case "municipality_keys", "postal_codes":
            let range = kind == "municipality_keys" ? 8...8 : 1...5
            if values.isEmpty { fail("definition.values", "missing", "must list at least one value") }
            for (i, v) in values.enumerated() where !(v.string.map { digits($0, range) } ?? false) {
                fail("definition.values[\(i)]", "invalid", kind == "municipality_keys" ? "must be an 8-digit municipality key" : "must be 1 to 5 digits (a postal code or its prefix)")
            }
            if definition.field != nil || !definition.extraKeys.isEmpty { fail("definition", "unexpected-key", "takes only values") }
        case "form_field":
            if values.isEmpty { fail("definition.values", "missing", "must list at least one value") }
            let field = definition.field ?? ""
            if field.isEmpty || field.count > 200 || field.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) {
                fail("definition.field", "invalid", "must be a dotted path such as vehicle.kind")
            }
            if !definition.extraKeys.isEmpty { fail("definition", "unexpected-key", "takes only field and values") }
        case "default":
            if definition.values != nil || definition.field != nil || !definition.extraKeys.isEmpty {
                fail("definition", "not-empty", "must be {} for the default rule")
            }
        default:
            fail("kind", "invalid-kind", "must be municipality_keys, postal_codes, form_field or default")
        }
        if values.count > 10_000 { fail("definition.values", "too-many", "at most 10000 values") }
        return errors
    }

    var definitionJSON: String {
        let list = "[" + (definition.values ?? []).map(\.json).joined(separator: ",") + "]"
        switch kind {
        case "default": return "{}"
        case "form_field": return "{\"field\":\(RuleValue.quote(definition.field ?? "")),\"values\":\(list)}"
        default: return "{\"values\":\(list)}"
        }
    }
}
