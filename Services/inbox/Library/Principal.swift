import ApplicationLifecycle
import Domain
import FoundationEssentials
import HTTPServer
import Postgres

/// The caseworker behind a request, from their bearer token: tenant, roles and areas, read
/// fresh for every request (one indexed query), so a revoked token, a deactivated caseworker or
/// a changed membership takes effect at once.
struct Principal: Sendable {
    var id: UUID
    var tenantID: UUID
    var name: String
    var email: String
    var roles: [String]
    var emailNotifications: Bool
    var areaIDs: [UUID]

    var isAdmin: Bool { roles.contains(CaseworkerRole.admin.rawValue) }

    /// The `Authorization: Bearer` caseworker token's owner, or a 401. The token's use is noted
    /// in `lastUse`, which writes `last_used_at` in the background (nil: not recorded); a token
    /// that matched nothing is remembered in `refused` briefly and not looked up again.
    static func authenticate(
        _ headers: HTTPHeaders, pool: PostgresPool, lastUse: CredentialUseRecorder?, refused: RefusedSecrets
    ) async throws -> Principal {
        guard let token = SecretToken.bearer(from: headers["Authorization"]),
              token.hasPrefix(SecretToken.Kind.caseworkerToken.rawValue) else { throw unauthorized }
        let hash = SecretToken.hash(of: token)
        if refused.contains(hash) { throw unauthorized }
        let rows = try await pool.query("""
            SELECT t.id AS token_id, c.id, c.tenant_id, c.name, c.email, c.roles, c.email_notifications,
                   coalesce((SELECT array_agg(m.area_id ORDER BY m.area_id) FROM area_members m
                             JOIN responsibility_areas ra ON ra.tenant_id = m.tenant_id AND ra.id = m.area_id AND ra.active
                             WHERE m.tenant_id = c.tenant_id AND m.caseworker_id = c.id), '{}') AS areas
            FROM caseworker_tokens t
            JOIN caseworkers c ON c.tenant_id = t.tenant_id AND c.id = t.caseworker_id
            WHERE t.token_hash = \(Bytea(hash)) AND t.revoked_at IS NULL
              AND (t.expires_at IS NULL OR t.expires_at > now()) AND c.active
            """)
        guard let row = rows.first else {
            refused.insert(hash)
            throw unauthorized
        }
        lastUse?.record(try row.decode("token_id"))
        return Principal(
            id: try row.decode("id"), tenantID: try row.decode("tenant_id"), name: try row.decode("name"),
            email: try row.decode("email"), roles: try row.decode("roles"),
            emailNotifications: try row.decode("email_notifications"), areaIDs: try row.decode("areas")
        )
    }


    /// A 403 unless this caseworker has the `admin` role.
    func requireAdmin() throws {
        guard isAdmin else {
            throw HTTPError(.forbidden, code: "admin-role-required", detail: "This resource needs the admin role.")
        }
    }

    static let unauthorized = HTTPError(
        .unauthorized, code: "unauthorized", detail: "Send a valid caseworker token as 'Authorization: Bearer <token>'.",
        headers: ["WWW-Authenticate": "Bearer realm=\"amtsweg-inbox\""]
    )

    /// Who the lifecycle records as acting.
    var actor: Actor { .caseworker(id: id, isAdmin: isAdmin) }

    /// What this caseworker sees: the whole tenant as an admin, else their areas.
    var scope: Scope { Scope(tenantID: tenantID, areaIDs: isAdmin ? nil : areaIDs) }

    func audit(_ action: String, _ objectKind: String, _ objectID: String?, application: UUID? = nil,
               requestID: String, details: [String: String] = [:]) -> AuditEntry {
        AuditEntry(tenantID: tenantID, actorKind: .caseworker, actorID: id, action: action, objectKind: objectKind,
                   objectID: objectID, applicationID: application, requestID: requestID, details: details)
    }
}


/// Small helpers shared by the handlers.
enum API {
    /// A JSON response from JSON text built by the database.
    static func rawJSON(_ text: String, status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var all = headers
        all.replaceOrAdd(name: "Content-Type", value: "application/json")
        if !all.contains("Cache-Control") { all.add(name: "Cache-Control", value: "no-store") }
        return HTTPResponse(status: status, headers: all, body: Array(text.utf8))
    }

    static func rawJSON(_ bytes: [UInt8], status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var all = headers
        all.replaceOrAdd(name: "Content-Type", value: "application/json")
        if !all.contains("Cache-Control") { all.add(name: "Cache-Control", value: "no-store") }
        return HTTPResponse(status: status, headers: all, body: bytes)
    }

    /// The path parameter as a UUID; anything else is answered like an unknown id.
    static func uuid(_ context: RequestContext, _ name: String, notFound: HTTPError) throws -> UUID {
        guard let id = UUID(uuidString: try context.parameter(name)) else { throw notFound }
        return id
    }

    static func queryUUID(_ value: String?, name: String) throws -> UUID? {
        guard let value, !value.isEmpty else { return nil }
        guard let id = UUID(uuidString: value) else {
            throw HTTPError.validationFailed([.init(field: name, code: "invalid-uuid", message: "must be a UUID")])
        }
        return id
    }

    static func queryInt(_ value: String?, name: String, default defaultValue: Int, range: ClosedRange<Int>) throws -> Int {
        guard let value, !value.isEmpty else { return defaultValue }
        guard let number = Int(value), range.contains(number) else {
            throw HTTPError.validationFailed([.init(field: name, code: "out-of-range",
                                                    message: "must be an integer from \(range.lowerBound) to \(range.upperBound)")])
        }
        return number
    }

    static func queryDate(_ value: String?, name: String) throws -> Date? {
        guard let value, !value.isEmpty else { return nil }
        guard let date = try? Date(value, strategy: .iso8601) else {
            throw HTTPError.validationFailed([.init(field: name, code: "invalid-date-time", message: "must be an RFC 3339 date-time")])
        }
        return date
    }

    /// The version a write names in `If-Match`: `"7"` (an entity tag) or a bare `7`. 428 when
    /// missing or `*` (every write names the version it saw), 400 when malformed. The lifecycle
    /// answers a stale one with 412.
    static func requiredVersion(_ request: HTTPRequest) throws -> Int {
        let values = request.headers.values(for: "If-Match")
        guard let raw = values.first, Substring(raw).trimmingHTTPWhitespace() != "*" else {
            throw HTTPError(.preconditionRequired, code: "precondition-required",
                            detail: "Send If-Match with the application's current version (its ETag).")
        }
        var text = Substring(raw).trimmingHTTPWhitespace()
        if text.hasPrefix("\"") && text.hasSuffix("\"") && text.count >= 2 { text = text.dropFirst().dropLast() }
        // Versions are PostgreSQL integers: a larger one could never match, and must not reach the database.
        guard values.count == 1, let version = Int(text), (1...Int(Int32.max)).contains(version) else {
            throw HTTPError(.badRequest, code: "invalid-if-match", detail: "If-Match must be the application's version, e.g. \"3\".")
        }
        return version
    }
}

extension Substring {
    func trimmingHTTPWhitespace() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}

/// How the inbox's routes find their caller: the caseworker token in the head, checked before a
/// body is read (``Router``'s route authenticators).
struct CaseworkerAuthentication: Sendable {
    let pool: PostgresPool
    /// Notes each token's use (`last_used_at`); nil records nothing.
    let lastUse: CredentialUseRecorder?
    let refused = RefusedSecrets()

    /// Any active caseworker.
    var caseworker: RouteAuthenticator {
        { [self] head in try await Principal.authenticate(head.headers, pool: pool, lastUse: lastUse, refused: refused) }
    }

    /// An admin of the tenant: a caseworker's body is not read either.
    var admin: RouteAuthenticator {
        { [self] head in
            let principal = try await Principal.authenticate(head.headers, pool: pool, lastUse: lastUse, refused: refused)
            try principal.requireAdmin()
            return principal
        }
    }
}
