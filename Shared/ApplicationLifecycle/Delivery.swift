import Domain
import FoundationEssentials
import JobQueue
import Postgres
import QueueContracts

/// What the servicekonto bridge learns of an outbound message: delivered, or failed for good.
extension ApplicationLifecycle {
    /// `delivered` with the receiver's id and time, a `message_delivered` event and the audit
    /// entry, in one statement; nothing when it was marked delivered before.
    public static func markDelivered(message: UUID, tenantID: UUID, receiverID: String, receivedAt: Date?, duplicate: Bool) -> SQLQuery {
        """
        WITH updated AS (
            UPDATE messages SET delivery_state = 'delivered', external_id = \(receiverID),
                   delivered_at = COALESCE(\(receivedAt)::timestamptz, now()), failure_reason = NULL, updated_at = now()
            WHERE tenant_id = \(tenantID) AND id = \(message) AND delivery_state IS DISTINCT FROM 'delivered'
            RETURNING tenant_id, application_id, id, kind
        ), event AS (
            INSERT INTO timeline_events (tenant_id, application_id, kind, visibility, actor_kind, data)
            SELECT tenant_id, application_id, 'message_delivered', 'internal', 'system',
                   jsonb_build_object('message_id', id, 'message_kind', kind, 'receiver_id', \(receiverID)::text)
            FROM updated
        )
        \(fragment: Audit.insertSelect(
            tenantID: "tenant_id", actorKind: .system, actorID: nil, action: "message.deliver", objectKind: "message",
            objectID: "id::text", applicationID: "application_id", requestID: nil,
            details: "jsonb_build_object('receiver_id', \(receiverID)::text, 'duplicate', \(duplicate)::boolean)", from: "updated"))
        """
    }

    /// `failed` with the reason, a `message_failed` event, the audit entry, and a `delivery_failed`
    /// e-mail job: to the caseworker holding the case, or — nobody holds it — to whoever is
    /// responsible when the e-mail goes out (``NotifyEmailJob``). Nothing when it was delivered.
    public func markFailed(message: UUID, tenantID: UUID, reason: String, in transaction: Transaction) async throws {
        let rows = try await transaction.query("""
            WITH updated AS (
                UPDATE messages SET delivery_state = 'failed', failure_reason = \(String(reason.prefix(2000))), delivered_at = NULL, updated_at = now()
                WHERE tenant_id = \(tenantID) AND id = \(message) AND delivery_state IS DISTINCT FROM 'delivered'
                RETURNING tenant_id, application_id, id, kind
            ), event AS (
                INSERT INTO timeline_events (tenant_id, application_id, kind, visibility, actor_kind, data)
                SELECT tenant_id, application_id, 'message_failed', 'internal', 'system',
                       jsonb_build_object('message_id', id, 'message_kind', kind)
                FROM updated
            ), audit AS (
                \(fragment: Audit.insertSelect(
                    tenantID: "tenant_id", actorKind: .system, actorID: nil, action: "message.delivery_failed", objectKind: "message",
                    objectID: "id::text", applicationID: "application_id", requestID: nil, details: "'{}'::jsonb", from: "updated"))
            )
            SELECT u.application_id, CASE WHEN a.status IN ('in_progress', 'awaiting_applicant') THEN a.claimed_by END AS holder
            FROM updated u JOIN applications a ON a.tenant_id = u.tenant_id AND a.id = u.application_id
            """)
        guard let row = rows.first else { return }
        let job = NotifyEmailJob(kind: .deliveryFailed, applicationID: try row.decode("application_id"),
                                 caseworkerID: try row.decode("holder", as: UUID?.self), messageID: message)
        try await queue.enqueue(try NewJob(job, tenantID: tenantID), in: transaction)
    }
}
