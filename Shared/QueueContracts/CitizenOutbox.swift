import FoundationEssentials
import JobQueue
import Postgres

/// `citizen-outbox` (routing, intake, inbox → servicekonto-bridge): one outbound message to the
/// applicant's postbox, by id (the message row holds the text). One live job per message; the
/// bridge's deferral behind an earlier message enqueues itself again undeduplicated.
public struct CitizenOutboxJob: QueueContract, Equatable {
    public static let queue = QueueName.citizenOutbox
    public var messageID: String

    public init(messageID: UUID) { self.messageID = messageID.uuidString.lowercased() }

    public var dedupeKey: String? { "citizen-outbox:" + messageID }

    enum CodingKeys: String, CodingKey { case messageID = "message_id" }

    /// The `(tenant_id, payload, dedupe_key)` rows of ``JobQueue/insertJobs(on:from:)`` for the
    /// messages a statement inserted into its CTE named `status_message` (columns
    /// `tenant_id`, `id`). The same payload and key as ``init(messageID:)`` (tested).
    public static let rowsForStatusMessage: SQLQuery = """
        SELECT tenant_id, jsonb_build_object('message_id', id::text), 'citizen-outbox:' || id::text FROM status_message
        """
}
