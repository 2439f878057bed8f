import JobQueue

/// `citizen-reply` (servicekonto-bridge → inbox): the one definition producer and consumer share.
///
/// One applicant reply taken from the postbox. The inbox
/// stores it as an inbound message (`kind` reply, `external_id` = `reply_id`), adds a
/// `reply_received` timeline event and moves an `awaiting_applicant` case back to `in_progress`.
///
/// `application_id`/`tenant` are resolved by the bridge from the answered message (whose
/// mailbox must be the reply's) or else from `application_id` plus mailbox; when neither
/// matches they are null and the job has no tenant (the inbox dead-letters it for an operator).
/// Reply attachments are stored by the bridge in `attachments` (origin `applicant`) in the same
/// transaction; the payload carries their ids.
public struct CitizenReplyPayload: QueueContract, Equatable {
    public static let queue = QueueName.citizenReply

    /// The postbox's reply id (also the job's dedupe key and the inbound message's external_id).
    public var reply_id: String
    public var mailbox_id: String
    public var application_id: String?
    /// Our outbound message the applicant answers, when it is ours.
    public var in_reply_to: String?
    public var text: String
    /// The text was longer than `PostboxLimits.maxReplyTextLength` characters and was cut.
    public var text_truncated: Bool
    /// RFC 3339, the postbox's time of the reply.
    public var received_at: String
    public var attachment_ids: [String]
    /// Attachments not stored, with the reason (bad checksum, too large, no application).
    public var rejected_attachments: [RejectedAttachment]

    public init(
        reply_id: String, mailbox_id: String, application_id: String?, in_reply_to: String?, text: String,
        text_truncated: Bool = false, received_at: String, attachment_ids: [String] = [], rejected_attachments: [RejectedAttachment] = []
    ) {
        self.reply_id = reply_id
        self.mailbox_id = mailbox_id
        self.application_id = application_id
        self.in_reply_to = in_reply_to
        self.text = text
        self.text_truncated = text_truncated
        self.received_at = received_at
        self.attachment_ids = attachment_ids
        self.rejected_attachments = rejected_attachments
    }

    /// One job per postbox reply.
    public var dedupeKey: String? { String(reply_id.prefix(200)) }

    /// Fields added after the first version default when absent, so older jobs still decode.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        reply_id = try c.decode(String.self, forKey: .reply_id)
        mailbox_id = try c.decode(String.self, forKey: .mailbox_id)
        application_id = try c.decodeIfPresent(String.self, forKey: .application_id)
        in_reply_to = try c.decodeIfPresent(String.self, forKey: .in_reply_to)
        text = try c.decode(String.self, forKey: .text)
        text_truncated = try c.decodeIfPresent(Bool.self, forKey: .text_truncated) ?? false
        received_at = try c.decode(String.self, forKey: .received_at)
        attachment_ids = try c.decodeIfPresent([String].self, forKey: .attachment_ids) ?? []
        rejected_attachments = try c.decodeIfPresent([RejectedAttachment].self, forKey: .rejected_attachments) ?? []
    }

    enum CodingKeys: String, CodingKey {
        case reply_id, mailbox_id, application_id, in_reply_to, text, text_truncated, received_at, attachment_ids, rejected_attachments
    }

    public struct RejectedAttachment: Codable, Sendable, Equatable {
        public var filename: String
        public var reason: String

        public init(filename: String, reason: String) {
            self.filename = filename
            self.reason = reason
        }
    }
}
