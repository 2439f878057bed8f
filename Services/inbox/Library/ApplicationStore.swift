import Domain
import FoundationEssentials
import HTTPServer
import JobQueue
import Postgres

/// An application as a write sees it, locked (`FOR UPDATE`) for the rest of the transaction.
struct LockedApplication: Sendable {
    var id: UUID
    var tenantID: UUID
    var reference: String
    var status: ApplicationStatus
    var areaID: UUID?
    var claimedBy: UUID?
    var claimedByName: String?
    var version: Int
    var serviceID: UUID
    var serviceName: String
    var documentTrustLevel: TrustLevel
    var mailboxID: UUID?
    var trustLevel: TrustLevel?
    var documentConsent: Bool
    var decisionsViaBackChannel: Bool
    var personalDataDeleted: Bool
}

/// The answer to a write: where the application stands now. No personal data.
struct ApplicationSummary: Codable, Sendable {
    var id: String
    var reference: String
    var status: String
    var outcome: String?
    var areaID: String?
    var claimedBy: String?
    var version: Int

    enum CodingKeys: String, CodingKey {
        case id, reference, status, outcome, version
        case areaID = "area_id"
        case claimedBy = "claimed_by"
    }

    var etag: String { "\"\(version)\"" }

    /// Absent values are sent as `null`, so every answer has the same members.
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(reference, forKey: .reference)
        try c.encode(status, forKey: .status)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(areaID, forKey: .areaID)
        try c.encode(claimedBy, forKey: .claimedBy)
        try c.encode(version, forKey: .version)
    }
}

/// Reads and writes of applications on behalf of a caseworker. Every query carries the
/// caseworker's tenant and, unless they are an admin, their areas: an application outside that
/// view does not exist for them (404).
struct ApplicationStore: Sendable {
    let pool: PostgresPool
    let queue: JobQueue

    static let notFound = HTTPError(.notFound, code: "application-not-found", detail: "No application with this id in your inbox.")

    // MARK: Reads (audited)

    /// The whole application as JSON, and an audit entry for reading it, in one statement.
    func detail(id: UUID, principal p: Principal, requestID: String) async throws -> (json: String, version: Int)? {
        let rows = try await pool.query("""
            WITH app AS (
                SELECT a.* FROM applications a
                WHERE a.tenant_id = \(p.tenantID) AND a.id = \(id)
                  AND (\(p.isAdmin)::boolean OR a.area_id = ANY(\(p.areaIDs)::uuid[]))
            ), audit AS (
                INSERT INTO audit_log (tenant_id, actor_kind, actor_id, action, object_kind, object_id, application_id, request_id)
                SELECT tenant_id, 'caseworker', \(p.id), 'application.read', 'application', id::text, id, \(requestID) FROM app
            )
            SELECT app.version, json_build_object(
                'id', app.id, 'reference', app.reference, 'status', app.status, 'outcome', app.outcome,
                'version', app.version,
                'service', json_build_object('id', s.id, 'key', s.key, 'name', s.name),
                'area', CASE WHEN ra.id IS NULL THEN NULL ELSE json_build_object('id', ra.id, 'name', ra.name) END,
                'claimed_by', CASE WHEN c.id IS NULL THEN NULL ELSE json_build_object('id', c.id, 'name', c.name) END,
                'applicant', app.applicant, 'form', app.form, 'payment', app.payment,
                'postbox', CASE WHEN app.postbox_mailbox_id IS NULL THEN NULL ELSE json_build_object(
                    'mailbox_id', app.postbox_mailbox_id, 'trust_level', app.postbox_trust_level,
                    'document_consent', app.document_consent) END,
                'submitted_at', app.submitted_at, 'received_at', app.received_at, 'updated_at', app.updated_at,
                'closed_at', app.closed_at, 'personal_data_deleted_at', app.personal_data_deleted_at,
                'attachments', coalesce((SELECT json_agg(json_build_object(
                        'id', f.id, 'origin', f.origin, 'filename', f.filename, 'content_type', f.content_type,
                        'size_bytes', f.size_bytes, 'sha256', encode(f.sha256, 'hex'), 'created_at', f.created_at,
                        'deleted', f.deleted_at IS NOT NULL) ORDER BY f.origin, f.position, f.created_at)
                    FROM attachments f WHERE f.tenant_id = app.tenant_id AND f.application_id = app.id), '[]'::json),
                'timeline', coalesce((SELECT json_agg(json_build_object(
                        'id', e.id, 'kind', e.kind, 'visibility', e.visibility, 'actor_kind', e.actor_kind,
                        'actor_caseworker_id', e.actor_caseworker_id, 'from_status', e.from_status, 'to_status', e.to_status,
                        'data', e.data, 'at', e.created_at) ORDER BY e.id)
                    FROM timeline_events e WHERE e.tenant_id = app.tenant_id AND e.application_id = app.id), '[]'::json),
                'messages', coalesce((SELECT json_agg(json_build_object(
                        'id', m.id, 'direction', m.direction, 'kind', m.kind, 'postbox_status', m.postbox_status,
                        'subject', m.subject, 'body', m.body, 'trust_level', m.trust_level,
                        'delivery_state', m.delivery_state, 'failure_reason', m.failure_reason,
                        'in_reply_to', m.in_reply_to, 'sent_by', m.sent_by, 'created_at', m.created_at,
                        'delivered_at', m.delivered_at,
                        'attachment_ids', coalesce((SELECT json_agg(ma.attachment_id) FROM message_attachments ma
                            WHERE ma.tenant_id = m.tenant_id AND ma.message_id = m.id), '[]'::json)) ORDER BY m.created_at, m.id)
                    FROM messages m WHERE m.tenant_id = app.tenant_id AND m.application_id = app.id), '[]'::json),
                'notes', coalesce((SELECT json_agg(json_build_object(
                        'id', n.id, 'author_id', n.author_id, 'body', n.body, 'created_at', n.created_at) ORDER BY n.created_at, n.id)
                    FROM application_notes n WHERE n.tenant_id = app.tenant_id AND n.application_id = app.id), '[]'::json)
            )::text AS document
            FROM app
            JOIN services s ON s.tenant_id = app.tenant_id AND s.id = app.service_id
            LEFT JOIN responsibility_areas ra ON ra.tenant_id = app.tenant_id AND ra.id = app.area_id
            LEFT JOIN caseworkers c ON c.tenant_id = app.tenant_id AND c.id = app.claimed_by
            """)
        guard let row = rows.first else { return nil }
        return (try row.decode("document"), try row.decode("version"))
    }

    struct AttachmentFile: Sendable {
        var filename: String
        var contentType: String
        var content: Data?
    }

    /// An attachment's bytes, and an audit entry for reading them, in one statement.
    func attachment(id: UUID, attachmentID: UUID, principal p: Principal, requestID: String) async throws -> AttachmentFile? {
        let rows = try await pool.query("""
            WITH file AS (
                SELECT f.id, f.tenant_id, f.application_id, f.filename, f.content_type, f.content FROM attachments f
                JOIN applications a ON a.tenant_id = f.tenant_id AND a.id = f.application_id
                WHERE f.tenant_id = \(p.tenantID) AND f.application_id = \(id) AND f.id = \(attachmentID)
                  AND (\(p.isAdmin)::boolean OR a.area_id = ANY(\(p.areaIDs)::uuid[]))
            ), audit AS (
                INSERT INTO audit_log (tenant_id, actor_kind, actor_id, action, object_kind, object_id, application_id, request_id)
                SELECT tenant_id, 'caseworker', \(p.id), 'attachment.read', 'attachment', id::text, application_id, \(requestID) FROM file
            )
            SELECT filename, content_type, content FROM file
            """)
        guard let row = rows.first else { return nil }
        return AttachmentFile(filename: try row.decode("filename"), contentType: try row.decode("content_type"),
                              content: try row.decode("content", as: Data?.self))
    }

    // MARK: Writes

    /// Locks the application if the caseworker may see it; nil otherwise.
    func lock(id: UUID, principal p: Principal, in tx: Transaction) async throws -> LockedApplication? {
        try await Self.lock(id: id, tenantID: p.tenantID, seesWholeTenant: p.isAdmin, areaIDs: p.areaIDs, in: tx)
    }

    /// The row lock for the system's own writes in a tenant (an applicant's reply): no area filter.
    static func lockForSystem(id: UUID, tenantID: UUID, in tx: Transaction) async throws -> LockedApplication? {
        try await lock(id: id, tenantID: tenantID, seesWholeTenant: true, areaIDs: [], in: tx)
    }

    private static func lock(id: UUID, tenantID: UUID, seesWholeTenant: Bool, areaIDs: [UUID], in tx: Transaction) async throws -> LockedApplication? {
        let rows = try await tx.query("""
            SELECT a.id, a.tenant_id, a.reference, a.status, a.area_id, a.claimed_by, a.version, a.postbox_mailbox_id,
                   a.postbox_trust_level, a.document_consent, a.personal_data_deleted_at IS NOT NULL AS deleted,
                   s.id AS service_id, s.name AS service_name, s.document_trust_level, t.decisions_via_back_channel,
                   (SELECT c.name FROM caseworkers c WHERE c.tenant_id = a.tenant_id AND c.id = a.claimed_by) AS claimed_by_name
            FROM applications a
            JOIN services s ON s.tenant_id = a.tenant_id AND s.id = a.service_id
            JOIN tenants t ON t.id = a.tenant_id
            WHERE a.tenant_id = \(tenantID) AND a.id = \(id)
              AND (\(seesWholeTenant)::boolean OR a.area_id = ANY(\(areaIDs)::uuid[]))
            FOR UPDATE OF a
            """)
        guard let row = rows.first else { return nil }
        return LockedApplication(
            id: try row.decode("id"), tenantID: try row.decode("tenant_id"), reference: try row.decode("reference"),
            status: ApplicationStatus(rawValue: try row.decode("status")) ?? .received,
            areaID: try row.decode("area_id", as: UUID?.self), claimedBy: try row.decode("claimed_by", as: UUID?.self),
            claimedByName: try row.decode("claimed_by_name", as: String?.self), version: try row.decode("version"),
            serviceID: try row.decode("service_id"), serviceName: try row.decode("service_name"),
            documentTrustLevel: TrustLevel(rawValue: try row.decode("document_trust_level")) ?? .substantial,
            mailboxID: try row.decode("postbox_mailbox_id", as: UUID?.self),
            trustLevel: (try row.decode("postbox_trust_level", as: String?.self)).flatMap(TrustLevel.init(rawValue:)),
            documentConsent: try row.decode("document_consent"), decisionsViaBackChannel: try row.decode("decisions_via_back_channel"),
            personalDataDeleted: try row.decode("deleted")
        )
    }

    /// Runs `body` on the locked application in one transaction. 404 when the caseworker cannot see it.
    func write<T: Sendable>(id: UUID, principal: Principal, _ body: (Transaction, LockedApplication) async throws -> T) async throws -> T {
        try await pool.withTransaction { tx in
            guard let app = try await lock(id: id, principal: principal, in: tx) else { throw Self.notFound }
            return try await body(tx, app)
        }
    }

    /// 409 naming the holder when someone else holds the application.
    static func requireNotHeldByOther(_ app: LockedApplication, _ p: Principal) throws {
        if let holder = app.claimedBy, holder != p.id, app.status == .inProgress || app.status == .awaitingApplicant {
            throw HTTPError(.conflict, code: "claimed-by-other",
                            detail: "The application is being worked on by \(app.claimedByName ?? "another caseworker").",
                            extensions: ["holder_id": holder.lowercased, "holder_name": app.claimedByName ?? "",
                                         "current_state": app.status.rawValue])
        }
    }

    /// 409 unless the caseworker holds the application.
    static func requireHolder(_ app: LockedApplication, _ p: Principal) throws {
        try requireNotHeldByOther(app, p)
        guard app.claimedBy == p.id else {
            throw HTTPError(.conflict, code: "not-claimed", detail: "Claim the application before working on it.",
                            extensions: ["current_state": app.status.rawValue])
        }
    }

    static func invalidTransition(_ app: LockedApplication, to next: String) -> HTTPError {
        HTTPError(.conflict, code: "invalid-transition",
                  detail: "The application is \(app.status.rawValue); it cannot become \(next).",
                  extensions: ["current_state": app.status.rawValue])
    }

    /// Changes status (and area, holder, outcome) of the locked application, bumps its version,
    /// records the timeline event and the audit entry, sends the applicant a status message when
    /// the postbox status changes, and wakes long-polls of the old and new area.
    func transition(
        _ app: LockedApplication, to next: ApplicationStatus, claimedBy: UUID?, areaID: UUID?, outcome: ApplicationOutcome? = nil,
        event: TimelineEventKind, eventData: [String: String] = [:], action: String, principal p: Principal, requestID: String,
        in tx: Transaction
    ) async throws -> ApplicationSummary {
        let rows = try await tx.query("""
            UPDATE applications SET status = \(next.rawValue), claimed_by = \(claimedBy), area_id = \(areaID),
                   outcome = \(outcome?.rawValue), version = version + 1, updated_at = now(),
                   closed_at = CASE WHEN \(next.rawValue) IN ('completed', 'withdrawn') THEN now() ELSE NULL END
            WHERE tenant_id = \(app.tenantID) AND id = \(app.id)
            RETURNING id, reference, status, outcome, area_id, claimed_by, version
            """)
        try await tx.query("""
            INSERT INTO timeline_events (tenant_id, application_id, kind, visibility, actor_kind, actor_caseworker_id, from_status, to_status, data)
            VALUES (\(app.tenantID), \(app.id), \(event.rawValue), 'public', 'caseworker', \(p.id), \(app.status.rawValue), \(next.rawValue),
                    \(PostgresJSON(eventData)))
            """)
        var details = eventData
        details["from_status"] = app.status.rawValue
        details["to_status"] = next.rawValue
        try await Audit.record(p.audit(action, "application", app.id.lowercased, application: app.id, requestID: requestID, details: details), in: tx)
        if next.postboxStatus != app.status.postboxStatus {
            try await sendStatusMessage(app, status: next, outcome: outcome, in: tx)
        }
        try await Self.notifyAreas([app.areaID, areaID], application: app.id, in: tx)
        return try Self.summary(rows[0])
    }

    static func summary(_ row: PostgresRow) throws -> ApplicationSummary {
        ApplicationSummary(
            id: (try row.decode("id", as: UUID.self)).lowercased, reference: try row.decode("reference"),
            status: try row.decode("status"), outcome: try row.decode("outcome", as: String?.self),
            areaID: (try row.decode("area_id", as: UUID?.self))?.lowercased,
            claimedBy: (try row.decode("claimed_by", as: UUID?.self))?.lowercased, version: try row.decode("version")
        )
    }

    /// `NOTIFY inbox.<area>` for each area (delivered at commit), so long-polls wake.
    static func notifyAreas(_ areas: [UUID?], application: UUID, in tx: Transaction) async throws {
        let unique = Array(Set(areas.compactMap { $0 }))
        guard !unique.isEmpty else { return }
        try await tx.query("""
            SELECT pg_notify('inbox.' || area::text, \(application.lowercased)) FROM unnest(\(unique)::uuid[]) AS area
            """)
    }

    /// Queues the applicant's status message (when there is a postbox) and its `citizen-outbox` job.
    func sendStatusMessage(_ app: LockedApplication, status: ApplicationStatus, outcome: ApplicationOutcome?, in tx: Transaction) async throws {
        guard let mailbox = app.mailboxID, let trust = app.trustLevel else { return }
        let kind = "citizen.status." + status.rawValue
        let fallback = StatusTexts.default(for: status, outcome: outcome)
        let rows = try await tx.query("""
            SELECT t.locale, own.subject AS own_subject, own.body AS own_body, de.subject AS de_subject, de.body AS de_body
            FROM tenants t
            LEFT JOIN notification_templates own ON own.tenant_id = t.id AND own.kind = \(kind) AND own.locale = t.locale
            LEFT JOIN notification_templates de ON de.tenant_id = t.id AND de.kind = \(kind) AND de.locale = 'de'
            WHERE t.id = \(app.tenantID)
            """)
        var subject = fallback.subject
        var body = fallback.body
        if let row = rows.first {
            if let s = try row.decode("own_subject", as: String?.self), let b = try row.decode("own_body", as: String?.self) {
                subject = s; body = b
            } else if let s = try row.decode("de_subject", as: String?.self), let b = try row.decode("de_body", as: String?.self) {
                subject = s; body = b
            }
        }
        let values = ["reference": app.reference, "service": app.serviceName, "outcome": outcome.map(StatusTexts.outcomeText) ?? ""]
        subject = StatusTexts.fill(subject, values)
        body = StatusTexts.fill(body, values)
        let message = try await tx.query("""
            INSERT INTO messages (tenant_id, application_id, direction, kind, postbox_status, subject, body, trust_level, mailbox_id, delivery_state)
            VALUES (\(app.tenantID), \(app.id), 'outbound', 'status', \(status.postboxStatus), \(String(subject.prefix(255))),
                    \(body), \(trust.rawValue), \(mailbox), 'queued')
            RETURNING id
            """)
        try await enqueueOutbox(messageID: try message[0].decode("id"), tenantID: app.tenantID, in: tx)
    }

    func enqueueOutbox(messageID: UUID, tenantID: UUID, in tx: Transaction) async throws {
        let id = messageID.lowercased
        try await queue.enqueue(
            try NewJob(queue: .citizenOutbox, payload: ["message_id": id], tenantID: tenantID, dedupeKey: "citizen-outbox:\(id)"),
            in: tx
        )
    }
}

/// German default texts of status messages; tenants override them with `citizen.status.<status>`
/// templates (placeholders `{{reference}}`, `{{service}}`, `{{outcome}}`).
enum StatusTexts {
    static func `default`(for status: ApplicationStatus, outcome: ApplicationOutcome?) -> (subject: String, body: String) {
        switch status {
        case .received, .assigned, .unroutable:
            ("Ihr Antrag {{reference}} ist eingegangen",
             "Ihr Antrag ({{service}}) mit der Vorgangsnummer {{reference}} ist eingegangen und wartet auf Bearbeitung.")
        case .inProgress:
            ("Ihr Antrag {{reference}} wird bearbeitet",
             "Ihr Antrag ({{service}}) mit der Vorgangsnummer {{reference}} wird jetzt bearbeitet.")
        case .awaitingApplicant:
            ("Rückfrage zu Ihrem Antrag {{reference}}",
             "Zu Ihrem Antrag ({{service}}) mit der Vorgangsnummer {{reference}} brauchen wir Angaben von Ihnen. Bitte beachten Sie unsere Nachricht.")
        case .completed:
            ("Ihr Antrag {{reference}} ist abgeschlossen",
             "Die Bearbeitung Ihres Antrags ({{service}}) mit der Vorgangsnummer {{reference}} ist abgeschlossen: {{outcome}}.")
        case .withdrawn:
            ("Antrag {{reference}} zurückgezogen",
             "Ihr Antrag mit der Vorgangsnummer {{reference}} wurde zurückgezogen. Er wird nicht weiter bearbeitet.")
        }
    }

    static func outcomeText(_ outcome: ApplicationOutcome) -> String {
        switch outcome {
        case .approved: "bewilligt"
        case .rejected: "abgelehnt"
        case .done: "erledigt"
        }
    }

    static func fill(_ template: String, _ values: [String: String]) -> String {
        var text = template
        for (name, value) in values { text = text.replacing("{{\(name)}}", with: value) }
        return text
    }
}
