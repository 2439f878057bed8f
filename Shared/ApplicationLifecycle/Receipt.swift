import Domain
import FoundationEssentials
import Postgres

extension ApplicationLifecycle {
    /// The start of every application's history, for intake's single insert statement: the CTEs
    /// `received_event` (the `received` timeline event) and `received_audit` (its audit entry)
    /// over the statement's CTE `app` (columns `id`, `tenant_id`, `service_id`) that inserted it.
    public static func receivedRecords(by intakeClient: UUID, attachments: Int, requestID: String) -> SQLQuery {
        """
        received_event AS (
            INSERT INTO timeline_events (tenant_id, application_id, kind, visibility, actor_kind, to_status, data)
            SELECT tenant_id, id, 'received', 'public', 'intake_client', 'received', jsonb_build_object('attachments', \(attachments)::integer)
            FROM app
        ), received_audit AS (
            \(fragment: Audit.insertSelect(
                tenantID: "tenant_id", actorKind: .intakeClient, actorID: intakeClient, action: "application.create",
                objectKind: "application", objectID: "id::text", applicationID: "id", requestID: requestID,
                details: "jsonb_build_object('service_id', service_id, 'attachments', \(attachments)::integer)", from: "app"))
        )
        """
    }
}
