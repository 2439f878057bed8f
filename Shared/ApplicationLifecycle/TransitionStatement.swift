import Domain
import FoundationEssentials
import JobQueue
import Postgres
import QueueContracts

/// One transition as one statement: lock and read the application, change the row (version + 1),
/// its timeline event, its audit entry, the applicant's status message with its `citizen-outbox`
/// job, and (when it lands in an area) a `new_application` e-mail job per member who wants one.
///
/// The row changes only if the application is in one of the transition's source states (and at
/// `expectedVersion`, when given); the statement always answers the state it found (`cur_*`), so
/// ``ApplicationLifecycle`` checks the rest of the rules on it and rolls back what they refuse.
struct TransitionStatement {
    var transition: Transition
    var target: ApplicationStatus
    var id: UUID
    var scope: Scope
    var actor: Actor
    var expectedVersion: Int?
    /// `.some(area)`: the application moves to `area` (nil: to none).
    var newArea: UUID??
    var outcome: ApplicationOutcome?
    /// Timeline `data` and audit `details` (ids and names of states only).
    var data: [String: String]
    var requestID: String?
    /// E-mail the new area's members.
    var notifyArea: Bool

    var query: SQLQuery {
        let sources = transition.sources.map(\.rawValue).sorted()
        let messageSources = transition.sources.filter { Transition.sendsStatusMessage(from: $0, to: target) }.map(\.rawValue).sorted()
        let setsArea = newArea != nil
        let area: UUID? = newArea ?? nil
        let holderActor = transition.holder == .actor, holderNobody = transition.holder == .nobody
        let closes = target == .completed || target == .withdrawn
        let data = PostgresJSON(self.data)
        return """
            WITH cur AS (
                \(fragment: ApplicationState.locking(id, scope: scope))
            ), target_area AS (
                SELECT ra.id, ra.service_id FROM responsibility_areas ra
                WHERE ra.tenant_id = \(scope.tenantID) AND ra.id = \(area) AND ra.active
            ), upd AS (
                UPDATE applications a
                SET status = \(target.rawValue),
                    area_id = CASE WHEN \(setsArea)::boolean THEN \(area)::uuid ELSE a.area_id END,
                    claimed_by = CASE WHEN \(holderActor)::boolean THEN \(actor.caseworkerID)::uuid
                                      WHEN \(holderNobody)::boolean THEN NULL ELSE a.claimed_by END,
                    outcome = \(outcome?.rawValue), version = a.version + 1, updated_at = now(),
                    closed_at = CASE WHEN \(closes)::boolean THEN now() ELSE NULL END
                FROM cur
                -- The row by its key from the parameters, not only through `cur`: whatever the plan
                -- guesses of the CTE, this stays one index lookup.
                WHERE a.tenant_id = \(scope.tenantID) AND a.id = \(id) AND a.tenant_id = cur.tenant_id AND a.id = cur.id
                  AND cur.status = ANY(\(sources)::text[])
                  AND (\(expectedVersion)::integer IS NULL OR cur.version = \(expectedVersion)::integer)
                  AND (\(area)::uuid IS NULL OR EXISTS (SELECT 1 FROM target_area))
                RETURNING a.id, a.tenant_id, a.reference, a.status, a.outcome, a.area_id, a.claimed_by, a.version
            ), timeline AS (
                INSERT INTO timeline_events (tenant_id, application_id, kind, visibility, actor_kind, actor_caseworker_id, from_status, to_status, data)
                SELECT upd.tenant_id, upd.id, \(transition.timelineEvent(to: target).rawValue), \(transition.timelineVisibility(to: target)),
                       \(actor.kind.rawValue), \(actor.caseworkerID), cur.status, upd.status, \(data)::jsonb
                FROM upd, cur
            ), audit AS (
                \(fragment: Audit.insertSelect(
                    tenantID: "upd.tenant_id", actorKind: actor.kind, actorID: actor.auditID, action: transition.auditAction,
                    objectKind: "application", objectID: "upd.id::text", applicationID: "upd.id", requestID: requestID,
                    details: "\(data)::jsonb || jsonb_build_object('from_status', cur.status, 'to_status', upd.status)",
                    from: "upd, cur"))
            ), status_message AS (
                INSERT INTO messages (tenant_id, application_id, direction, kind, postbox_status, subject, body, trust_level, mailbox_id, delivery_state)
                SELECT upd.tenant_id, upd.id, 'outbound', 'status', \(target.postboxStatus), text.subject, text.body,
                       cur.postbox_trust_level, cur.postbox_mailbox_id, 'queued'
                FROM upd, cur, LATERAL (\(fragment: StatusMessages.filledText(for: target, outcome: outcome))) AS text
                WHERE cur.postbox_mailbox_id IS NOT NULL AND cur.postbox_trust_level IS NOT NULL
                  AND cur.status = ANY(\(messageSources)::text[])
                RETURNING tenant_id, id
            ), outbox_job AS (
                \(fragment: JobQueue.insertJobs(on: .citizenOutbox, from: CitizenOutboxJob.rowsForStatusMessage))
            ), members AS (
                SELECT upd.tenant_id, upd.id AS application_id, c.id AS caseworker_id, c.email_notifications
                FROM upd
                JOIN area_members m ON m.tenant_id = upd.tenant_id AND m.area_id = upd.area_id
                JOIN caseworkers c ON c.tenant_id = m.tenant_id AND c.id = m.caseworker_id
                WHERE \(notifyArea)::boolean AND c.active
            ), recipients AS (
                SELECT tenant_id, application_id, caseworker_id FROM members WHERE email_notifications
            ), email_jobs AS (
                \(fragment: JobQueue.insertJobs(on: .notifyEmail, from: NotifyEmailJob.newApplicationRows))
            )
            SELECT cur.*,
                   upd.id AS new_id, upd.reference AS new_reference, upd.status AS new_status, upd.outcome AS new_outcome,
                   upd.area_id AS new_area_id, upd.claimed_by AS new_claimed_by, upd.version AS new_version,
                   (SELECT id FROM status_message) AS status_message_id,
                   (SELECT count(*) FROM outbox_job)::integer AS outbox_jobs,
                   (SELECT count(*) FROM members)::integer AS active_members,
                   coalesce((SELECT array_agg(caseworker_id ORDER BY caseworker_id) FROM recipients), '{}'::uuid[]) AS recipients,
                   (SELECT count(*) FROM email_jobs)::integer AS email_jobs,
                   EXISTS (SELECT 1 FROM target_area) AS target_area_found,
                   (SELECT service_id FROM target_area) AS target_area_service_id
            FROM cur LEFT JOIN upd ON true
            """
    }
}
