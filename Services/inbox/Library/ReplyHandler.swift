import Domain
import FoundationEssentials
import JobQueue
import Logging
import Metrics
import Postgres

/// Stores an applicant's reply in the job's transaction (exactly once): the inbound message, a
/// `reply_received` timeline event, `awaiting_applicant` → `in_progress` (with its `PROCESSING`
/// status message to the postbox, as every status change has), an audit entry, an
/// `applicant_replied` e-mail job for the holder (else for every member of the area who wants
/// e-mail), and a wake-up for the area's long-polls. A repeated `external_id` is a no-op.
struct ReplyHandler: TransactionalJobHandler {
    /// The parts of a `CitizenReplyPayload` the inbox stores, parsed.
    struct Reply {
        var applicationID: UUID
        var inReplyTo: UUID?
        var externalID: String
        var text: String
        var receivedAt: String?
        var attachmentIDs: [UUID]
    }

    let queue: JobQueue
    /// For the status message of `awaiting_applicant` → `in_progress`.
    let store: ApplicationStore

    static func consumer(pool: PostgresPool, queue: JobQueue, listener: PostgresListener?, concurrency: Int,
                         logger: Logger, metrics: MetricsRegistry?) -> QueueConsumer {
        QueueConsumer(pool: pool, listener: listener,
                      configuration: ConsumerConfiguration(queue: .citizenReply, batchSize: 20, concurrency: concurrency),
                      handler: .transactional(ReplyHandler(queue: queue, store: ApplicationStore(pool: pool, queue: queue))),
                      logger: logger, metrics: metrics)
    }

    func handle(_ job: Job, in tx: Transaction) async throws {
        guard let tenant = job.tenantID else { throw JobFailure.permanent(reason: "citizen-reply job has no tenant") }
        let payload: CitizenReplyPayload
        do { payload = try job.decodePayload(as: CitizenReplyPayload.self) } catch {
            throw JobFailure.permanent(reason: "citizen-reply payload is not a CitizenReplyPayload (Shared/Domain)")
        }
        guard let applicationID = payload.application_id.flatMap(UUID.init(uuidString:)) else {
            throw JobFailure.permanent(reason: "citizen-reply matches no application (the bridge found none for its mailbox)")
        }
        let reply = Reply(
            applicationID: applicationID, inReplyTo: payload.in_reply_to.flatMap(UUID.init(uuidString:)),
            externalID: payload.reply_id, text: payload.text, receivedAt: payload.received_at,
            attachmentIDs: payload.attachment_ids.compactMap(UUID.init(uuidString:))
        )
        guard !reply.externalID.isEmpty, reply.externalID.utf8.count <= 200, reply.text.count <= 100_000,
              !reply.text.unicodeScalars.contains(where: { $0.value == 0 }) else {
            throw JobFailure.permanent(reason: "citizen-reply payload has an empty or too long external_id or text")
        }
        // The row lock; the same one the status message below needs.
        guard let app = try await ApplicationStore.lockForSystem(id: reply.applicationID, tenantID: tenant, in: tx) else {
            throw JobFailure.permanent(reason: "citizen-reply for an application that does not exist in the job's tenant")
        }
        guard let mailbox = app.mailboxID, let trust = app.trustLevel?.rawValue else {
            throw JobFailure.permanent(reason: "citizen-reply for an application without a postbox")
        }
        if app.personalDataDeleted {
            throw JobFailure.permanent(reason: "citizen-reply for an application whose personal data was deleted")
        }
        let status = app.status
        let receivedAt = reply.receivedAt.flatMap { try? Date($0, strategy: .iso8601) }
        let area = app.areaID
        let holder = app.claimedBy
        // in_reply_to must name an outbound message of this application; otherwise it is dropped.
        var inReplyTo: UUID?
        if let candidate = reply.inReplyTo {
            let known = try await tx.query("""
                SELECT 1 AS found FROM messages WHERE tenant_id = \(tenant) AND application_id = \(reply.applicationID)
                  AND id = \(candidate) AND direction = 'outbound'
                """)
            if !known.isEmpty { inReplyTo = candidate }
        }
        let inserted = try await tx.query("""
            INSERT INTO messages (tenant_id, application_id, direction, kind, body, trust_level, mailbox_id, external_id, in_reply_to, created_at)
            VALUES (\(tenant), \(reply.applicationID), 'inbound', 'reply', \(reply.text), \(trust), \(mailbox), \(reply.externalID), \(inReplyTo),
                    coalesce(\(receivedAt)::timestamptz, now()))
            ON CONFLICT (tenant_id, direction, external_id) WHERE external_id IS NOT NULL DO NOTHING
            RETURNING id
            """)
        guard let messageRow = inserted.first else { return }  // the same reply again
        let messageID = try messageRow.decode("id", as: UUID.self)
        if !reply.attachmentIDs.isEmpty {
            // The bridge stored the reply's files; they belong to this message.
            try await tx.query("""
                INSERT INTO message_attachments (tenant_id, message_id, attachment_id)
                SELECT \(tenant), \(messageID), a.id FROM attachments a
                WHERE a.tenant_id = \(tenant) AND a.application_id = \(reply.applicationID) AND a.id = ANY(\(reply.attachmentIDs)::uuid[])
                """)
        }
        try await tx.query("""
            INSERT INTO timeline_events (tenant_id, application_id, kind, visibility, actor_kind, data)
            VALUES (\(tenant), \(reply.applicationID), 'reply_received', 'internal', 'applicant',
                    jsonb_build_object('message_id', \(messageID.lowercased)::text))
            """)
        try await Audit.record(AuditEntry(
            tenantID: tenant, actorKind: .applicant, action: "message.receive", objectKind: "message",
            objectID: messageID.lowercased, applicationID: reply.applicationID, details: ["job_id": String(job.id)]
        ), in: tx)
        if status == .awaitingApplicant {
            try await tx.query("""
                UPDATE applications SET status = 'in_progress', version = version + 1, updated_at = now()
                WHERE tenant_id = \(tenant) AND id = \(reply.applicationID)
                """)
            try await tx.query("""
                INSERT INTO timeline_events (tenant_id, application_id, kind, visibility, actor_kind, from_status, to_status, data)
                VALUES (\(tenant), \(reply.applicationID), 'resumed', 'public', 'applicant', 'awaiting_applicant', 'in_progress',
                        jsonb_build_object('message_id', \(messageID.lowercased)::text))
                """)
            try await Audit.record(AuditEntry(
                tenantID: tenant, actorKind: .applicant, action: "application.status", objectKind: "application",
                objectID: reply.applicationID.lowercased, applicationID: reply.applicationID,
                details: ["from_status": "awaiting_applicant", "to_status": "in_progress"]
            ), in: tx)
            try await store.sendStatusMessage(app, status: .inProgress, outcome: nil, in: tx)
        } else {
            try await tx.query("UPDATE applications SET version = version + 1, updated_at = now() WHERE tenant_id = \(tenant) AND id = \(reply.applicationID)")
        }
        // Who hears of it: the holder, else the area's members who want e-mail.
        var recipients: [UUID] = []
        if let holder, status == .inProgress || status == .awaitingApplicant {
            recipients = [holder]
        } else if let area {
            recipients = try await tx.query("""
                SELECT c.id FROM area_members m JOIN caseworkers c ON c.tenant_id = m.tenant_id AND c.id = m.caseworker_id
                WHERE m.tenant_id = \(tenant) AND m.area_id = \(area) AND c.active AND c.email_notifications ORDER BY c.id
                """).map { try $0.decode("id") }
        }
        let jobs = try recipients.map { caseworker in
            try NewJob(queue: .notifyEmail,
                       payload: ["kind": "applicant_replied", "application_id": reply.applicationID.lowercased, "caseworker_id": caseworker.lowercased],
                       tenantID: tenant, dedupeKey: "applicant-replied:\(messageID.lowercased):\(caseworker.lowercased)")
        }
        try await queue.enqueue(jobs, in: tx)
        try await ApplicationStore.notifyAreas([area], application: reply.applicationID, in: tx)
    }
}
