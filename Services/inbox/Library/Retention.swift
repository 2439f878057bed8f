import Domain
import FoundationEssentials
import Logging
import Postgres
import ServiceRuntime

/// Deletes personal data of applications closed (completed or withdrawn) longer ago than their
/// service's `retention_days`: applicant, form, payment, postbox, message subjects and bodies,
/// note bodies, attachment contents and file names. Kept: reference, service, area, status,
/// outcome, dates, the timeline (status history) and the audit log, which hold only ids and
/// status names. Each application gets a `personal_data_deleted` timeline event and a
/// `application.personal_data_delete` audit entry by the system.
///
/// Once a day, one replica: the sweep runs under a session advisory lock, and only when the
/// last recorded run in `maintenance_runs` started more than `interval` ago.
struct Retention: Sendable {
    let pool: PostgresPool
    let logger: Logger
    var batchSize = 200
    /// Key of the advisory lock ("retention" in ASCII, shortened).
    static let lockKey: Int64 = 0x7265_7465_6E74_696F

    /// Runs the sweep if it is due and no other replica runs it. Returns the number of
    /// applications cleaned, or nil when it was not this replica's turn.
    @discardableResult
    func runIfDue(interval: Duration = .seconds(86_400)) async throws -> Int? {
        try await pool.withConnection { connection in
            let locked = try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockKey)) AS locked")
            guard try locked[0].decode("locked", as: Bool.self) else { return nil }
            do {
                let seconds = Int(interval.components.seconds)
                let due = try await connection.query("""
                    INSERT INTO maintenance_runs AS r (name, last_started_at) VALUES ('retention', now())
                    ON CONFLICT (name) DO UPDATE SET last_started_at = now(), last_finished_at = NULL
                        WHERE r.last_started_at <= now() - \(seconds) * interval '1 second'
                    RETURNING name
                    """)
                var cleaned: Int?
                if !due.isEmpty {
                    var total = 0
                    while true {
                        let count = try await sweepBatch(connection)
                        total += count
                        if count < batchSize { break }
                    }
                    try await connection.query("""
                        UPDATE maintenance_runs SET last_finished_at = now(), details = jsonb_build_object('applications', \(total)::integer)
                        WHERE name = 'retention'
                        """)
                    logger.info("retention sweep done", ["applications": String(total)])
                    cleaned = total
                }
                _ = try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))")
                return cleaned
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))")
                throw error
            }
        }
    }

    /// Cleans up to `batchSize` due applications in one statement (atomic); returns how many.
    func sweepBatch(_ connection: PostgresConnection) async throws -> Int {
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
                UPDATE messages m SET subject = NULL, body = NULL, updated_at = now()
                FROM apps WHERE m.tenant_id = apps.tenant_id AND m.application_id = apps.id
                RETURNING m.application_id
            ), notes AS (
                UPDATE application_notes n SET body = NULL
                FROM apps WHERE n.tenant_id = apps.tenant_id AND n.application_id = apps.id
                RETURNING n.application_id
            ), events AS (
                INSERT INTO timeline_events (tenant_id, application_id, kind, visibility, actor_kind)
                SELECT tenant_id, id, 'personal_data_deleted', 'internal', 'system' FROM apps
            ), audit AS (
                INSERT INTO audit_log (tenant_id, actor_kind, action, object_kind, object_id, application_id, details)
                SELECT apps.tenant_id, 'system', 'application.personal_data_delete', 'application', apps.id::text, apps.id,
                       jsonb_build_object('attachments', (SELECT count(*) FROM files WHERE files.application_id = apps.id),
                                          'messages', (SELECT count(*) FROM msgs WHERE msgs.application_id = apps.id),
                                          'notes', (SELECT count(*) FROM notes WHERE notes.application_id = apps.id))
                FROM apps
            )
            SELECT count(*)::integer AS cleaned FROM apps
            """)
        return try rows[0].decode("cleaned")
    }
}

/// Checks every `checkInterval` whether the day's retention sweep is due.
struct RetentionService: RuntimeService {
    let retention: Retention
    let checkInterval: Duration
    var name: String { "retention" }

    func run(shutdown: ShutdownSignal) async throws {
        while !shutdown.isTriggered {
            do {
                try await retention.runIfDue()
            } catch {
                retention.logger.error("retention sweep failed", ["error": String(describing: error)])
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await Task.sleep(for: checkInterval) }
                group.addTask { await shutdown.wait() }
                await group.next()
                group.cancelAll()
            }
        }
    }
}
