import Domain
import FoundationEssentials
import Postgres

/// An application as a change sees it: read with its row lock (`FOR UPDATE`), so it stays so
/// for the rest of the transaction. No personal data.
public struct ApplicationState: Sendable {
    public var id: UUID
    public var tenantID: UUID
    public var reference: String
    public var status: ApplicationStatus
    public var outcome: ApplicationOutcome?
    public var areaID: UUID?
    public var claimedBy: UUID?
    public var claimedByName: String?
    public var version: Int
    public var serviceID: UUID
    public var serviceName: String
    public var documentTrustLevel: TrustLevel
    public var mailboxID: UUID?
    public var trustLevel: TrustLevel?
    public var documentConsent: Bool
    public var decisionsViaBackChannel: Bool
    public var personalDataDeleted: Bool

    /// Someone is working on it (the holder counts only while it is in progress or awaiting).
    public var activeHolder: UUID? {
        status == .inProgress || status == .awaitingApplicant ? claimedBy : nil
    }

    /// The columns ``init(row:)`` reads, selected from `applications a`, `services s`,
    /// `tenants t`, as the lifecycle's statements select them.
    static let columns: SQLQuery = """
        a.id, a.tenant_id, a.reference, a.status, a.outcome, a.area_id, a.claimed_by, a.version, a.service_id,
        a.postbox_mailbox_id, a.postbox_trust_level, a.document_consent, a.personal_data_deleted_at IS NOT NULL AS deleted,
        s.name AS service_name, s.document_trust_level, t.decisions_via_back_channel, t.locale,
        (SELECT c.name FROM caseworkers c WHERE c.tenant_id = a.tenant_id AND c.id = a.claimed_by) AS claimed_by_name
        """

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        tenantID = try row.decode("tenant_id")
        reference = try row.decode("reference")
        status = ApplicationStatus(rawValue: try row.decode("status")) ?? .received
        outcome = (try row.decode("outcome", as: String?.self)).flatMap(ApplicationOutcome.init(rawValue:))
        areaID = try row.decode("area_id", as: UUID?.self)
        claimedBy = try row.decode("claimed_by", as: UUID?.self)
        claimedByName = try row.decode("claimed_by_name", as: String?.self)
        version = try row.decode("version")
        serviceID = try row.decode("service_id")
        serviceName = try row.decode("service_name")
        documentTrustLevel = TrustLevel(rawValue: try row.decode("document_trust_level")) ?? .substantial
        mailboxID = try row.decode("postbox_mailbox_id", as: UUID?.self)
        trustLevel = (try row.decode("postbox_trust_level", as: String?.self)).flatMap(TrustLevel.init(rawValue:))
        documentConsent = try row.decode("document_consent")
        decisionsViaBackChannel = try row.decode("decisions_via_back_channel")
        personalDataDeleted = try row.decode("deleted")
    }

    /// The application with its row lock, if the scope sees it: what ``init(row:)`` reads.
    /// `FOR NO KEY UPDATE`, the lock its own UPDATE takes (no key changes): it keeps two changes of
    /// one application apart, but not the foreign-key checks (`FOR KEY SHARE`) of rows other
    /// transactions add to it meanwhile (timeline events, messages, attachments).
    static func locking(_ id: UUID, scope: Scope) -> SQLQuery {
        """
        SELECT \(fragment: columns)
        FROM applications a
        JOIN services s ON s.tenant_id = a.tenant_id AND s.id = a.service_id
        JOIN tenants t ON t.id = a.tenant_id
        WHERE \(fragment: scopeFilter(scope, id: id))
        FOR NO KEY UPDATE OF a
        """
    }

    /// The scope's filter on `applications a` (tenant, id, areas, an intake key's services).
    public static func scopeFilter(_ scope: Scope, id: UUID) -> SQLQuery {
        """
        a.tenant_id = \(scope.tenantID) AND a.id = \(id)
          AND (\(scope.areaIDs == nil)::boolean OR a.area_id = ANY(\(scope.areaIDs ?? [])::uuid[]))
          AND (\(scope.boundIntakeClient)::uuid IS NULL OR EXISTS (
                SELECT 1 FROM intake_client_services cs WHERE cs.tenant_id = a.tenant_id
                  AND cs.intake_client_id = \(scope.boundIntakeClient)::uuid AND cs.service_id = a.service_id))
        """
    }
}

/// Where an application stands after a change: what the API answers. No personal data.
public struct ApplicationSummary: Codable, Sendable, Equatable {
    public var id: String
    public var reference: String
    public var status: String
    public var outcome: String?
    public var areaID: String?
    public var claimedBy: String?
    public var version: Int

    enum CodingKeys: String, CodingKey {
        case id, reference, status, outcome, version
        case areaID = "area_id"
        case claimedBy = "claimed_by"
    }

    public var etag: String { "\"\(version)\"" }

    /// Absent values are sent as `null`, so every answer has the same members.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(reference, forKey: .reference)
        try c.encode(status, forKey: .status)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(areaID, forKey: .areaID)
        try c.encode(claimedBy, forKey: .claimedBy)
        try c.encode(version, forKey: .version)
    }

    /// From a row with `id, reference, status, outcome, area_id, claimed_by, version` under
    /// the column names `prefix` + name.
    init(row: PostgresRow, prefix: String = "") throws {
        id = (try row.decode(prefix + "id", as: UUID.self)).uuidString.lowercased()
        reference = try row.decode(prefix + "reference")
        status = try row.decode(prefix + "status")
        outcome = try row.decode(prefix + "outcome", as: String?.self)
        areaID = (try row.decode(prefix + "area_id", as: UUID?.self))?.uuidString.lowercased()
        claimedBy = (try row.decode(prefix + "claimed_by", as: UUID?.self))?.uuidString.lowercased()
        version = try row.decode(prefix + "version")
    }
}
