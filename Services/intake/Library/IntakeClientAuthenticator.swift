import Domain
import FoundationEssentials
import HTTPServer
import Postgres
import Synchronization

/// The posting system behind a request, from its intake client key.
struct IntakeClient: Sendable {
    var id: UUID
    var tenantID: UUID
    var referencePrefix: String
    /// May post to every service of the tenant; otherwise only to `intake_client_services`.
    var allServices: Bool
}

/// Looks intake client keys up by their SHA-256 and remembers hits for `cacheTTL`, so the hot
/// path does not pay a query per request. A revoked key stops working within `cacheTTL`.
/// Misses are remembered for ``RefusedSecrets/defaultTTL`` (a new key works after at most that). Every accepted key's use is noted in
/// `lastUse` (cache hits too), which writes `last_used_at` in the background.
final class IntakeClientAuthenticator: Sendable {
    private let pool: PostgresPool
    private let cacheTTL: Duration
    private let lastUse: CredentialUseRecorder?
    private let cache = Mutex<[String: (client: IntakeClient, until: ContinuousClock.Instant)]>([:])
    private let refused = RefusedSecrets()

    init(pool: PostgresPool, cacheTTL: Duration, lastUse: CredentialUseRecorder?) {
        self.pool = pool
        self.cacheTTL = cacheTTL
        self.lastUse = lastUse
    }

    /// The client for the `Authorization` header, or a 401.
    func authenticate(_ header: String?) async throws -> IntakeClient {
        guard let key = SecretToken.bearer(from: header), key.hasPrefix(SecretToken.Kind.intakeClientKey.rawValue) else {
            throw Self.unauthorized
        }
        let hash = SecretToken.hash(of: key)
        let cacheKey = Hex.encode(hash)
        let now = ContinuousClock.now
        if let hit = cache.withLock({ $0[cacheKey] }), hit.until > now {
            lastUse?.record(hit.client.id)
            return hit.client
        }
        if refused.contains(hash) { throw Self.unauthorized }
        let rows = try await pool.query("""
            SELECT c.id, c.tenant_id, c.all_services, t.reference_prefix
            FROM intake_clients c JOIN tenants t ON t.id = c.tenant_id
            WHERE c.key_hash = \(Bytea(hash)) AND c.revoked_at IS NULL
            """)
        guard let row = rows.first else {
            cache.withLock { _ = $0.removeValue(forKey: cacheKey) }
            refused.insert(hash)
            throw Self.unauthorized
        }
        let client = IntakeClient(
            id: try row.decode("id"), tenantID: try row.decode("tenant_id"),
            referencePrefix: try row.decode("reference_prefix"), allServices: try row.decode("all_services")
        )
        cache.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[cacheKey] = (client, now + cacheTTL)
        }
        lastUse?.record(client.id)
        return client
    }

    static let unauthorized = HTTPError(
        .unauthorized, code: "unauthorized", detail: "Send a valid intake client key as 'Authorization: Bearer <key>'.",
        headers: ["WWW-Authenticate": "Bearer realm=\"amtsweg-intake\""]
    )
}
