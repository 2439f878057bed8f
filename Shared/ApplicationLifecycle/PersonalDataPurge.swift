import Domain
import FoundationEssentials
import JobQueue
import Postgres

/// Retention's deletion of personal data (DESIGN.md "Retention").
extension ApplicationLifecycle {
    /// Deletes the personal data of up to `batchSize` applications closed (completed or
    /// withdrawn) longer ago than their service's `retention_days`, in one statement: applicant,
    /// form, payment, postbox, message subjects, bodies and refused file names, note bodies,
    /// attachment contents and file names, and the jobs and dead letters that still name the
    /// application (a queued reply carries the applicant's text and mailbox). Kept: reference,
    /// service, area, status, outcome, dates, the timeline and the audit log, which hold only
    /// ids and state names. Each gets a `personal_data_deleted` event and an audit entry by the
    /// system, with what was deleted counted. Returns how many applications it cleaned.
    /// What the audit entry counts (columns of the purge's CTEs).
    private static let purgeCounts: SQLQuery = """
        jsonb_build_object('attachments', (SELECT count(*) FROM files WHERE files.application_id = apps.id),
                           'messages', (SELECT count(*) FROM msgs WHERE msgs.application_id = apps.id),
                           'notes', (SELECT count(*) FROM notes WHERE notes.application_id = apps.id),
                           'queue_jobs', (SELECT count(*) FROM jobs WHERE jobs.application_id = apps.id::text),
                           'dead_letters', (SELECT count(*) FROM dead WHERE dead.application_id = apps.id::text))
        """

    public static func purgePersonalData(batchSize: Int, on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query("""
            WITH due AS (
                SELECT a.tenant_id, a.id FROM applications a
                JOIN services s ON s.tenant_id = a.tenant_id AND s.id = a.service_id
                WHERE a.closed_at IS NOT NULL AND a.personal_data_deleted_at IS NULL
                  AND a.status IN ('completed', 'withdrawn')
                  AND a.closed_at < now() - s.retention_days * interval '1 day'
                ORDER BY a.closed_at
                LIMIT \(batchSize)
                FOR UPDATE OF a SKIP LOCKED
            ), apps AS (
                UPDATE applications a SET applicant = NULL, form = NULL, payment = NULL, postbox_mailbox_id = NULL,
                       postbox_trust_level = NULL, document_consent = false, personal_data_deleted_at = now(), updated_at = now(),
                       version = a.version + 1
                FROM due WHERE a.tenant_id = due.tenant_id AND a.id = due.id
                RETURNING a.tenant_id, a.id
            ), files AS (
                UPDATE attachments f SET content = NULL, deleted_at = now(), filename = 'deleted-' || f.position::text
                FROM apps WHERE f.tenant_id = apps.tenant_id AND f.application_id = apps.id AND f.deleted_at IS NULL
                RETURNING f.application_id
            ), msgs AS (
                UPDATE messages m SET subject = NULL, body = NULL, rejected_attachments = '[]', updated_at = now()
                FROM apps WHERE m.tenant_id = apps.tenant_id AND m.application_id = apps.id
                RETURNING m.application_id
            ), notes AS (
                UPDATE application_notes n SET body = NULL
                FROM apps WHERE n.tenant_id = apps.tenant_id AND n.application_id = apps.id
                RETURNING n.application_id
            ), jobs AS (
                \(fragment: JobQueue.deleteJobsOfApps)
            ), dead AS (
                \(fragment: JobQueue.deleteDeadLettersOfApps)
            ), events AS (
                INSERT INTO timeline_events (tenant_id, application_id, kind, visibility, actor_kind)
                SELECT tenant_id, id, 'personal_data_deleted', 'internal', 'system' FROM apps
            ), audit AS (
                \(fragment: Audit.insertSelect(
                    tenantID: "apps.tenant_id", actorKind: .system, actorID: nil, action: "application.personal_data_delete",
                    objectKind: "application", objectID: "apps.id::text", applicationID: "apps.id", requestID: nil,
                    details: purgeCounts,
                    from: "apps"))
            )
            SELECT count(*)::integer AS cleaned FROM apps
            """)
        return try rows[0].decode("cleaned")
    }
}
