import ApplicationLifecycle
import Domain
import FoundationEssentials
import JobQueue
import Logging
import Metrics
import Postgres
import QueueContracts

/// Stores an applicant's reply in the job's transaction (exactly once): the inbound message, a
/// `reply_received` timeline event, `awaiting_applicant` → `in_progress` (with its `PROCESSING`
/// status message to the postbox, as every status change has), an audit entry, an
/// `applicant_replied` e-mail job for the holder (else for every member of the area who wants
/// e-mail), and a wake-up for the area's long-polls. A repeated `external_id` is a no-op.
struct ReplyHandler: TransactionalJobHandler {
    let lifecycle: ApplicationLifecycle

    /// Replies claimed and stored per transaction.
    static let batchSize = 20

    /// A consumer on `pool` alone, for tests (the service's is wired by `InboxService`).
    static func consumer(pool: PostgresPool, queue: JobQueue, listener: PostgresListener?, concurrency: Int,
                         logger: Logger, metrics: MetricsRegistry?) -> QueueConsumer {
        QueueConsumer(pool: pool, listener: listener,
                      configuration: ConsumerConfiguration(queue: .citizenReply, batchSize: batchSize, concurrency: concurrency),
                      handler: .transactional(ReplyHandler(lifecycle: ApplicationLifecycle(queue: queue))),
                      logger: logger, metrics: metrics)
    }

    func handle(_ job: Job, in tx: Transaction) async throws {
        guard let tenant = job.tenantID else { throw JobFailure.permanent(reason: "citizen-reply job has no tenant") }
        let reply = try job.payload(as: CitizenReplyPayload.self)
        guard let applicationID = reply.application_id.flatMap(UUID.init(uuidString:)) else {
            throw JobFailure.permanent(reason: "citizen-reply matches no application (the bridge found none for its mailbox)")
        }
        guard !reply.reply_id.isEmpty, reply.reply_id.utf8.count <= 200, reply.text.count <= 100_000,
              !reply.text.unicodeScalars.contains(where: { $0.value == 0 }) else {
            throw JobFailure.permanent(reason: "citizen-reply payload has an empty or too long external_id or text")
        }
        guard let app = try await lifecycle.lock(applicationID, scope: Scope(tenantID: tenant), in: tx) else {
            throw JobFailure.permanent(reason: "citizen-reply for an application that does not exist in the job's tenant")
        }
        guard let mailbox = app.mailboxID, let trust = app.trustLevel else {
            throw JobFailure.permanent(reason: "citizen-reply for an application without a postbox")
        }
        if app.personalDataDeleted {
            throw JobFailure.permanent(reason: "citizen-reply for an application whose personal data was deleted")
        }
        // in_reply_to must name an outbound message of this application; otherwise it is dropped.
        var inReplyTo: UUID?
        if let candidate = reply.in_reply_to.flatMap(UUID.init(uuidString:)) {
            let known = try await tx.query("""
                SELECT 1 AS found FROM messages WHERE tenant_id = \(tenant) AND application_id = \(applicationID)
                  AND id = \(candidate) AND direction = 'outbound'
                """)
            if !known.isEmpty { inReplyTo = candidate }
        }
        guard let messageID = try await lifecycle.recordReply(
            reply, inReplyTo: inReplyTo, receivedAt: try? Date(reply.received_at, strategy: .iso8601), on: app,
            mailbox: mailbox, trustLevel: trust, jobID: job.id, in: tx)
        else { return }  // the same reply again
        if app.status == .awaitingApplicant {
            try await lifecycle.apply(.reply, application: applicationID, scope: Scope(tenantID: tenant), actor: .applicant,
                                      expectedVersion: nil, data: ["message_id": messageID.uuidString.lowercased()], in: tx)
        } else {
            _ = try await lifecycle.touch(app, in: tx)
        }
        // Who hears of it: the holder, else the area's members who want e-mail.
        var recipients: [UUID] = []
        if let holder = app.activeHolder {
            recipients = [holder]
        } else if let area = app.areaID {
            recipients = try await tx.query("""
                SELECT c.id FROM area_members m JOIN caseworkers c ON c.tenant_id = m.tenant_id AND c.id = m.caseworker_id
                WHERE m.tenant_id = \(tenant) AND m.area_id = \(area) AND c.active AND c.email_notifications ORDER BY c.id
                """).map { try $0.decode("id") }
        }
        let jobs = try recipients.map { caseworker in
            try NewJob(NotifyEmailJob(kind: .applicantReplied, applicationID: applicationID, caseworkerID: caseworker, messageID: messageID),
                       tenantID: tenant)
        }
        try await lifecycle.queue.enqueue(jobs, in: tx)
    }
}
