import Domain
import FoundationEssentials
import Postgres
import RoutingRules

/// An application no rule and no fallback area took.
public struct UnroutableApplication: Encodable, Sendable, Equatable {
    public var id: UUID
    public var reference: String
    public var status: String
    public var version: Int
    public var serviceID: UUID
    public var serviceKey: String
    public var serviceName: String
    public var receivedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, reference, status, version, service, key, name
        case receivedAt = "received_at"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeID(id, forKey: .id)
        try c.encode(reference, forKey: .reference)
        try c.encode(status, forKey: .status)
        try c.encode(version, forKey: .version)
        var service = c.nestedContainer(keyedBy: CodingKeys.self, forKey: .service)
        try service.encodeID(serviceID, forKey: .id)
        try service.encode(serviceKey, forKey: .key)
        try service.encode(serviceName, forKey: .name)
        try c.encode(receivedAt, forKey: .receivedAt)
    }
}

/// One entry of the audit log as admins read it.
public struct AuditLogEntry: Encodable, Sendable, Equatable {
    public var id: Int64
    public var occurredAt: Date
    public var actorKind: String
    public var actorID: UUID?
    public var action: String
    public var objectKind: String
    public var objectID: String?
    public var applicationID: UUID?
    public var requestID: String?
    public var details: JSONValue

    enum CodingKeys: String, CodingKey {
        case id, action, details
        case occurredAt = "occurred_at"
        case actorKind = "actor_kind"
        case actorID = "actor_id"
        case objectKind = "object_kind"
        case objectID = "object_id"
        case applicationID = "application_id"
        case requestID = "request_id"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(occurredAt, forKey: .occurredAt)
        try c.encode(actorKind, forKey: .actorKind)
        try c.encodeID(actorID, forKey: .actorID)
        try c.encode(action, forKey: .action)
        try c.encode(objectKind, forKey: .objectKind)
        try c.encodeOrNull(objectID, forKey: .objectID)
        try c.encodeID(applicationID, forKey: .applicationID)
        try c.encodeOrNull(requestID, forKey: .requestID)
        try c.encode(details, forKey: .details)
    }
}

/// A page of the audit log; the next page starts after `nextAfterID` (nil: the last page).
public struct AuditLogPage: Encodable, Sendable, Equatable {
    public var items: [AuditLogEntry]
    public var nextAfterID: Int64?

    enum CodingKeys: String, CodingKey {
        case items
        case nextAfterID = "next_after_id"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(items, forKey: .items)
        try c.encodeOrNull(nextAfterID, forKey: .nextAfterID)
    }
}

/// Which audit entries to read.
public struct AuditLogQuery: Sendable, Equatable {
    public var applicationID: UUID?
    /// Entries whose actor is this caseworker.
    public var caseworkerID: UUID?
    public var from: Date?
    /// Exclusive.
    public var to: Date?
    public var afterID: Int64 = 0
    public var limit: Int = 100

    public init(applicationID: UUID? = nil, caseworkerID: UUID? = nil, from: Date? = nil, to: Date? = nil, afterID: Int64 = 0, limit: Int = 100) {
        self.applicationID = applicationID
        self.caseworkerID = caseworkerID
        self.from = from
        self.to = to
        self.afterID = afterID
        self.limit = limit
    }
}

extension AdminStore {
    /// Unroutable applications of the tenant, newest first (no personal data: they are listed to
    /// be forwarded).
    public func unroutableApplications(tenant: UUID, limit: Int = 100) async throws -> [UnroutableApplication] {
        if !(1...500).contains(limit) { throw AdminError.invalid("limit", "out-of-range", "must be an integer from 1 to 500") }
        return try await pool.query("""
            SELECT a.id, a.reference, a.status, a.version, a.received_at, s.id AS service_id, s.key AS service_key, s.name AS service_name
            FROM applications a JOIN services s ON s.tenant_id = a.tenant_id AND s.id = a.service_id
            WHERE a.tenant_id = \(tenant) AND a.status = 'unroutable'
            ORDER BY a.received_at DESC, a.id DESC LIMIT \(limit)
            """).map { row in
            UnroutableApplication(
                id: try row.decode("id"), reference: try row.decode("reference"), status: try row.decode("status"), version: try row.decode("version"),
                serviceID: try row.decode("service_id"), serviceKey: try row.decode("service_key"), serviceName: try row.decode("service_name"),
                receivedAt: try row.decode("received_at"))
        }
    }

    /// The tenant's audit log, oldest first, by application, caseworker and time range.
    public func auditLog(tenant: UUID, _ q: AuditLogQuery) async throws -> AuditLogPage {
        if !(1...1000).contains(q.limit) { throw AdminError.invalid("limit", "out-of-range", "must be an integer from 1 to 1000") }
        let rows = try await pool.query("""
            SELECT l.id, l.occurred_at, l.actor_kind, l.actor_id, l.action, l.object_kind, l.object_id, l.application_id, l.request_id,
                   l.details::text AS details
            FROM audit_log l
            WHERE l.tenant_id = \(tenant) AND l.id > \(q.afterID)
              AND (\(q.applicationID)::uuid IS NULL OR l.application_id = \(q.applicationID))
              AND (\(q.caseworkerID)::uuid IS NULL OR (l.actor_kind = 'caseworker' AND l.actor_id = \(q.caseworkerID)))
              AND (\(q.from)::timestamptz IS NULL OR l.occurred_at >= \(q.from))
              AND (\(q.to)::timestamptz IS NULL OR l.occurred_at < \(q.to))
            ORDER BY l.id LIMIT \(q.limit)
            """)
        let items = try rows.map { row in
            AuditLogEntry(
                id: try row.decode("id"), occurredAt: try row.decode("occurred_at"), actorKind: try row.decode("actor_kind"),
                actorID: try row.decode("actor_id", as: UUID?.self), action: try row.decode("action"), objectKind: try row.decode("object_kind"),
                objectID: try row.decode("object_id", as: String?.self), applicationID: try row.decode("application_id", as: UUID?.self),
                requestID: try row.decode("request_id", as: String?.self), details: try JSONValue.parse(try row.decode("details", as: String.self)))
        }
        return AuditLogPage(items: items, nextAfterID: items.count == q.limit ? items.last?.id : nil)
    }
}
