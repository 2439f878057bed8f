import FoundationEssentials
import Postgres

/// One entry of the append-only audit log. Only ids and pseudonymous metadata (status names,
/// counts, field names) go into `details`, never personal data: entries outlive the payload.
public struct AuditEntry: Sendable {
    public var tenantID: UUID?
    public var actorKind: ActorKind
    public var actorID: UUID?
    /// `object.verb`, e.g. `application.create`, `application.read`, `token.create`.
    public var action: String
    public var objectKind: String
    public var objectID: String?
    public var applicationID: UUID?
    public var requestID: String?
    public var details: [String: String]

    public init(
        tenantID: UUID?, actorKind: ActorKind, actorID: UUID? = nil, action: String, objectKind: String,
        objectID: String? = nil, applicationID: UUID? = nil, requestID: String? = nil, details: [String: String] = [:]
    ) {
        self.tenantID = tenantID
        self.actorKind = actorKind
        self.actorID = actorID
        self.action = action
        self.objectKind = objectKind
        self.objectID = objectID
        self.applicationID = applicationID
        self.requestID = requestID
        self.details = details
    }
}

public enum Audit {
    /// Appends `entry` as part of `transaction`.
    public static func record(_ entry: AuditEntry, in transaction: Transaction) async throws {
        try await transaction.query(insert(entry))
    }

    /// Appends `entry` in a statement of its own.
    public static func record(_ entry: AuditEntry, pool: PostgresPool) async throws {
        try await pool.query(insert(entry))
    }

    /// The audit insert for one entry per row of `from`, for a statement that records audit
    /// entries in one of its CTEs: the column list is spelled here only. `tenantID`, `objectID`,
    /// `applicationID` and `details` are SQL over `from`'s columns (`details` a jsonb).
    public static func insertSelect(
        tenantID: SQLQuery, actorKind: ActorKind, actorID: UUID?, action: String, objectKind: String,
        objectID: SQLQuery, applicationID: SQLQuery, requestID: String?, details: SQLQuery, from: SQLQuery
    ) -> SQLQuery {
        """
        INSERT INTO audit_log (tenant_id, actor_kind, actor_id, action, object_kind, object_id, application_id, request_id, details)
        SELECT \(fragment: tenantID), \(actorKind.rawValue), \(actorID)::uuid, \(action), \(objectKind), \(fragment: objectID),
               \(fragment: applicationID), \(requestID)::text, \(fragment: details)
        FROM \(fragment: from)
        """
    }

    static func insert(_ e: AuditEntry) -> SQLQuery {
        """
        INSERT INTO audit_log (tenant_id, actor_kind, actor_id, action, object_kind, object_id, application_id, request_id, details)
        VALUES (\(e.tenantID), \(e.actorKind.rawValue), \(e.actorID), \(e.action), \(e.objectKind), \(e.objectID),
                \(e.applicationID), \(e.requestID), \(PostgresJSON(e.details)))
        """
    }
}
