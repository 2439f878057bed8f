import ApplicationLifecycle
import Domain
import FoundationEssentials
import JobQueue
import Lease
import Logging
import Metrics
import Postgres
import QueueContracts
import Servicekonto

/// Delivers one `citizen-outbox` job: loads the message, checks DESIGN.md "Back channel rules"
/// again (defence in depth), posts it to the postbox with our message id as `id` (the receiver
/// deduplicates), and records the outcome on the message.
///
/// - success: `delivered`, with the receiver's id (`external_id`) and time (`delivered_at`);
/// - 5xx, 429 (with its `Retry-After`), no response: retried with backoff; on the job's last
///   attempt the message is marked `failed` instead;
/// - other 4xx and broken rules: `failed` with the reason, a `notify-email` `delivery_failed`
///   job (to the caseworker holding the case, else to whoever is responsible when it is sent),
///   and the job goes to the dead letters (a replay tries again).
///
/// Messages of one application go out in the order they were created: a message with an
/// earlier one still queued is put back (a new delayed job) for up to `orderWait`.
public struct OutboxHandler: JobHandler {
    let pool: PostgresPool
    /// Where `delivered` is recorded: the queue's bookkeeping pool (commits without waiting for the
    /// WAL flush). A crash of the database can lose that mark only together with the job's ack,
    /// so the job runs again and the postbox answers the repeated id as a duplicate.
    let deliveryPool: PostgresPool
    let queue: JobQueue
    let client: ServicekontoClient
    let configuration: BridgeConfiguration
    let logger: Logger
    let outcomes: Counter

    public init(pool: PostgresPool, deliveryPool: PostgresPool? = nil, queue: JobQueue, client: ServicekontoClient,
                configuration: BridgeConfiguration, logger: Logger, metrics: MetricsRegistry) {
        self.pool = pool
        self.deliveryPool = deliveryPool ?? pool
        self.queue = queue
        self.client = client
        self.configuration = configuration
        self.logger = logger
        outcomes = metrics.counter("servicekonto_deliveries_total", help: "Outbox jobs by outcome (delivered, failed, retried, deferred, skipped)")
    }

    struct Loaded {
        var id: UUID
        var tenantID: UUID
        var applicationID: UUID
        var direction: String
        var kind: String
        var postboxStatus: String?
        var subject: String?
        var body: String?
        var trustLevel: TrustLevel
        var mailboxID: UUID
        var deliveryState: String?
        var createdAt: Date
        var reference: String
        var applicationMailbox: UUID?
        var applicantTrustLevel: TrustLevel?
        var documentConsent: Bool
        var serviceName: String
        var documentTrustLevel: TrustLevel
        var tenantName: String
        var decisionsAllowed: Bool
        var earlierQueued: Bool
        var waitedTooLong: Bool
    }

    public func handle(_ job: Job) async throws {
        let payload = try job.payload(as: CitizenOutboxJob.self)
        guard let messageID = UUID(uuidString: payload.messageID) else {
            throw JobFailure.permanent(reason: "message_id is not a UUID")
        }
        guard let message = try await load(messageID, tenantID: job.tenantID) else {
            outcomes.increment(by: 1, ["outcome": "skipped"])
            throw JobFailure.permanent(reason: "message \(payload.messageID) not found")
        }
        if message.deliveryState == "delivered" {
            outcomes.increment(by: 1, ["outcome": "skipped"])
            return
        }
        if let broken = ruleViolation(message) {
            try await markFailed(message, reason: broken)
            throw JobFailure.permanent(reason: broken)
        }
        if message.earlierQueued && !message.waitedTooLong {
            try await deferBehindEarlier(job, message)
            return
        }
        do {
            let receipt: PostboxReceipt
            if message.kind == "status" {
                receipt = try await client.deliver(try statusUpdate(message), before: job.deadline)
            } else {
                receipt = try await client.deliver(try await postboxMessage(message), before: job.deadline)
            }
            try await markDelivered(message, receipt: receipt)
        } catch let error as PostboxError {
            switch error.kind {
            case .leaseLost:
                // Not sent; the job is someone else's now: record nothing on the message.
                throw LeaseLostError()
            case .permanent:
                try await markFailed(message, reason: error.reason)
                throw JobFailure.permanent(reason: error.reason)
            case .transient where job.attempt >= job.maxAttempts:
                let reason = "gave up after \(job.attempt) attempts: \(error.reason)"
                try await markFailed(message, reason: reason)
                throw JobFailure.permanent(reason: reason)
            case .transient:
                outcomes.increment(by: 1, ["outcome": "retried"])
                if let retryAfter = error.retryAfter { throw JobFailure.retry(after: retryAfter, reason: error.reason) }
                throw error
            }
        } catch let failure as ContentFailure {
            try await markFailed(message, reason: failure.reason)
            throw JobFailure.permanent(reason: failure.reason)
        }
    }

    // MARK: Rules

    /// DESIGN.md "Back channel rules", checked again right before sending.
    func ruleViolation(_ message: Loaded) -> String? {
        guard message.direction == "outbound" else { return "not an outbound message" }
        guard message.applicationMailbox != nil else {
            return "the application has no citizen postbox; back-channel messages cannot be sent"
        }
        if message.kind == "decision" && !message.decisionsAllowed {
            return "decision refused: the tenant's policy decisions_via_back_channel is off"
        }
        if message.kind == "document" {
            guard message.documentConsent else {
                return "document refused: the applicant has not consented to documents over the back channel (document_consent)"
            }
            let level = message.applicantTrustLevel ?? .basic
            if level < message.documentTrustLevel {
                return "document refused: the applicant's trust level \(level.rawValue) is below the service's document_trust_level \(message.documentTrustLevel.rawValue)"
            }
        }
        if message.body == nil { return "the message's content was deleted (retention)" }
        return nil
    }

    // MARK: Building requests

    struct ContentFailure: Error { var reason: String }

    func statusUpdate(_ message: Loaded) throws -> PostboxStatusUpdate {
        guard let raw = message.postboxStatus, let status = PostboxStatusValue(rawValue: raw) else {
            throw ContentFailure(reason: "status message without a postbox status")
        }
        return PostboxStatusUpdate(
            id: message.id.uuidString.lowercased(), mailboxUuid: message.mailboxID.uuidString.lowercased(),
            applicationId: message.applicationID.uuidString.lowercased(), status: status,
            publicServiceName: message.serviceName, senderName: message.tenantName,
            createdDate: RFC3339.format(message.createdAt), statusDetails: message.body.flatMap { $0.isEmpty ? nil : $0 })
    }

    func postboxMessage(_ message: Loaded) async throws -> PostboxMessage {
        var attachments: [PostboxAttachment]?
        if message.kind == "document" {
            let rows = try await pool.query("""
                SELECT a.filename, a.content_type, a.size_bytes, a.content
                FROM message_attachments ma
                JOIN attachments a ON a.tenant_id = ma.tenant_id AND a.id = ma.attachment_id
                WHERE ma.tenant_id = \(message.tenantID) AND ma.message_id = \(message.id)
                ORDER BY a.position, a.id
                """)
            var list: [PostboxAttachment] = []
            for row in rows {
                let filename: String = try row.decode("filename")
                guard let content = try row.decode("content", as: Data?.self) else {
                    throw ContentFailure(reason: "attachment \(filename) was deleted (retention)")
                }
                let bytes = Array(content)
                list.append(PostboxAttachment(
                    filename: filename, mimeType: try row.decode("content_type"), sha512sum: SHA512.hex(bytes),
                    contentLength: bytes.count, content: content.base64EncodedString()))
            }
            guard !list.isEmpty else { throw ContentFailure(reason: "document message without attachments") }
            attachments = list
        }
        return PostboxMessage(
            id: message.id.uuidString.lowercased(), mailboxUuid: message.mailboxID.uuidString.lowercased(),
            sender: message.tenantName, title: message.subject ?? message.reference, content: message.body ?? "",
            service: message.serviceName, stork_qaa_level: message.trustLevel.storkQAALevel,
            applicationId: message.applicationID.uuidString.lowercased(), reference: message.reference, attachments: attachments)
    }

    // MARK: Database

    func load(_ id: UUID, tenantID: UUID?) async throws -> Loaded? {
        let rows = try await pool.query("""
            SELECT m.id, m.tenant_id, m.application_id, m.direction, m.kind, m.postbox_status, m.subject, m.body,
                   m.trust_level, m.mailbox_id, m.delivery_state, m.created_at,
                   a.reference, a.postbox_mailbox_id, a.postbox_trust_level, a.document_consent,
                   s.name AS service_name, s.document_trust_level, t.name AS tenant_name, t.decisions_via_back_channel,
                   EXISTS (SELECT 1 FROM messages p
                           WHERE p.tenant_id = m.tenant_id AND p.application_id = m.application_id
                             AND p.direction = 'outbound' AND p.delivery_state = 'queued' AND p.id <> m.id
                             AND p.created_at < m.created_at) AS earlier_queued,
                   m.created_at < now() - make_interval(secs => \(Double(configuration.orderWait.components.seconds))) AS waited_too_long
            FROM messages m
            JOIN applications a ON a.tenant_id = m.tenant_id AND a.id = m.application_id
            JOIN services s ON s.tenant_id = a.tenant_id AND s.id = a.service_id
            JOIN tenants t ON t.id = m.tenant_id
            WHERE m.id = \(id) AND (\(tenantID)::uuid IS NULL OR m.tenant_id = \(tenantID))
            """)
        guard let row = rows.first else { return nil }
        func level(_ column: String) throws -> TrustLevel? {
            try row.decode(column, as: String?.self).flatMap(TrustLevel.init(rawValue:))
        }
        return Loaded(
            id: try row.decode("id"), tenantID: try row.decode("tenant_id"), applicationID: try row.decode("application_id"),
            direction: try row.decode("direction"), kind: try row.decode("kind"),
            postboxStatus: try row.decode("postbox_status", as: String?.self), subject: try row.decode("subject", as: String?.self),
            body: try row.decode("body", as: String?.self), trustLevel: try level("trust_level") ?? .basic,
            mailboxID: try row.decode("mailbox_id"), deliveryState: try row.decode("delivery_state", as: String?.self),
            createdAt: try row.decode("created_at"), reference: try row.decode("reference"),
            applicationMailbox: try row.decode("postbox_mailbox_id", as: UUID?.self), applicantTrustLevel: try level("postbox_trust_level"),
            documentConsent: try row.decode("document_consent"), serviceName: try row.decode("service_name"),
            documentTrustLevel: try level("document_trust_level") ?? .substantial, tenantName: try row.decode("tenant_name"),
            decisionsAllowed: try row.decode("decisions_via_back_channel"), earlierQueued: try row.decode("earlier_queued"),
            waitedTooLong: try row.decode("waited_too_long"))
    }

    func markDelivered(_ message: Loaded, receipt: PostboxReceipt) async throws {
        try await deliveryPool.query(ApplicationLifecycle.markDelivered(
            message: message.id, tenantID: message.tenantID, receiverID: receipt.receiverId,
            receivedAt: RFC3339.parse(receipt.receivedAt), duplicate: receipt.duplicate))
        outcomes.increment(by: 1, ["outcome": "delivered"])
    }

    /// `failed` with the reason, its timeline event and audit entry, and the caseworkers' alert
    /// (``ApplicationLifecycle/markFailed(message:tenantID:reason:in:)``): one transaction.
    func markFailed(_ message: Loaded, reason: String) async throws {
        try await pool.withTransaction { transaction in
            try await ApplicationLifecycle(queue: queue).markFailed(message: message.id, tenantID: message.tenantID, reason: reason, in: transaction)
        }
        outcomes.increment(by: 1, ["outcome": "failed"])
        logger.warning("message not delivered", ["message_id": message.id.uuidString.lowercased(), "reason": String(reason.prefix(2000))])
    }

    /// An earlier message of the application is still queued: hand this one back as a new
    /// delayed job (a new job, so waiting does not use up delivery attempts).
    func deferBehindEarlier(_ job: Job, _ message: Loaded) async throws {
        _ = try await queue.enqueue(try NewJob(
            CitizenOutboxJob(messageID: message.id), tenantID: message.tenantID, delay: configuration.orderRecheck, deduplicated: false))
        outcomes.increment(by: 1, ["outcome": "deferred"])
    }
}
