import ApplicationLifecycle
import Domain
import FoundationEssentials
import HTTPServer
import JobQueue
import Postgres

/// Reads and writes of applications on behalf of a caseworker. Every query carries the
/// caseworker's tenant and, unless they are an admin, their areas: an application outside that
/// view does not exist for them (404).
struct ApplicationStore: Sendable {
    let pool: PostgresPool
    let lifecycle: ApplicationLifecycle

    init(pool: PostgresPool, queue: JobQueue) {
        self.pool = pool
        lifecycle = ApplicationLifecycle(queue: queue)
    }

    static let notFound = HTTPError(.notFound, code: "application-not-found", detail: "No application with this id in your inbox.")

    // MARK: Reads (audited)

    /// The whole application as JSON, and an audit entry for reading it, in one statement.
    func detail(id: UUID, principal p: Principal, requestID: String) async throws -> (json: String, version: Int)? {
        let rows = try await pool.query("""
            WITH app AS (
                SELECT a.* FROM applications a
                WHERE \(fragment: ApplicationState.scopeFilter(p.scope, id: id))
            ), audit AS (
                \(fragment: Audit.insertSelect(
                    tenantID: "tenant_id", actorKind: .caseworker, actorID: p.id, action: "application.read", objectKind: "application",
                    objectID: "id::text", applicationID: "id", requestID: requestID, details: "'{}'::jsonb", from: "app"))
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
                        'text_truncated', m.text_truncated, 'rejected_attachments', m.rejected_attachments,
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
                \(fragment: Audit.insertSelect(
                    tenantID: "tenant_id", actorKind: .caseworker, actorID: p.id, action: "attachment.read", objectKind: "attachment",
                    objectID: "id::text", applicationID: "application_id", requestID: requestID, details: "'{}'::jsonb", from: "file"))
            )
            SELECT filename, content_type, content FROM file
            """)
        guard let row = rows.first else { return nil }
        return AttachmentFile(filename: try row.decode("filename"), contentType: try row.decode("content_type"),
                              content: try row.decode("content", as: Data?.self))
    }

    // MARK: Writes

    /// Runs `body` as one transaction; the lifecycle's refusals become the API's problems.
    func change<T: Sendable>(_ body: (Transaction) async throws -> T) async throws -> T {
        do {
            return try await pool.withTransaction { try await body($0) }
        } catch let error as LifecycleError {
            throw Self.problem(error)
        }
    }

    /// Runs `body` on the application, locked, in one transaction. 404 when the caseworker cannot see it.
    func write<T: Sendable>(id: UUID, principal p: Principal, _ body: (Transaction, ApplicationState) async throws -> T) async throws -> T {
        try await change { tx in
            guard let state = try await lifecycle.lock(id, scope: p.scope, in: tx) else { throw Self.notFound }
            return try await body(tx, state)
        }
    }

    /// The HTTP answer to a refusal of the lifecycle (409 with `current_state`, 412 with the
    /// current `ETag`, 422 naming `area_id`, 404).
    static func problem(_ error: LifecycleError) -> HTTPError {
        var extensions: [String: String] = [:]
        if let state = error.currentState { extensions["current_state"] = state.rawValue }
        switch error.code {
        case .notFound:
            return notFound
        case .versionMismatch:
            let version = error.currentVersion ?? 0
            return HTTPError(.preconditionFailed, code: error.code.rawValue, detail: error.detail,
                             extensions: ["current_version": String(version)], headers: ["ETag": "\"\(version)\""])
        case .sameArea, .unknownArea, .areaOfAnotherService:
            return HTTPError.validationFailed([.init(field: "area_id", code: error.code.rawValue, message: error.detail)])
        case .claimedByOther:
            extensions["holder_id"] = error.holderID?.lowercased ?? ""
            extensions["holder_name"] = error.holderName ?? ""
            return HTTPError(.conflict, code: error.code.rawValue, detail: error.detail, extensions: extensions)
        default:
            return HTTPError(.conflict, code: error.code.rawValue, detail: error.detail, extensions: extensions)
        }
    }
}
