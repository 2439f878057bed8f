import FoundationEssentials
import JobQueue
import Postgres

/// `notify-email` (routing, inbox, servicekonto-bridge → notification): one e-mail to caseworkers
/// about an application. Carries ids only, never applicant data (the e-mail has none either).
///
/// `caseworkerID` names the recipient. Without it (a failed delivery nobody holds) the
/// notification service resolves the recipients when it sends: the application's holder, else
/// the active members of its area who want e-mail, else the tenant's active admins.
///
/// Every shape stored before this type existed decodes: `{kind, application_id, caseworker_id}`
/// (routing, forward, replies) and the same with `message_id` (failed deliveries).
public struct NotifyEmailJob: QueueContract, Equatable {
    public static let queue = QueueName.notifyEmail

    public enum Kind: String, Codable, Sendable, CaseIterable {
        case newApplication = "new_application"
        case applicantReplied = "applicant_replied"
        case deliveryFailed = "delivery_failed"
    }

    public var kind: Kind
    public var applicationID: UUID
    public var caseworkerID: UUID?
    /// The message the e-mail is about (replies, failed deliveries).
    public var messageID: UUID?

    public init(kind: Kind, applicationID: UUID, caseworkerID: UUID?, messageID: UUID? = nil) {
        self.kind = kind
        self.applicationID = applicationID
        self.caseworkerID = caseworkerID
        self.messageID = messageID
    }

    /// One e-mail per caseworker and cause, while one is still waiting to go out.
    public var dedupeKey: String? {
        let application = applicationID.uuidString.lowercased()
        let caseworker = caseworkerID?.uuidString.lowercased() ?? "responsible"
        switch kind {
        case .newApplication: return "new_application/\(application)/\(caseworker)"
        case .applicantReplied, .deliveryFailed:
            guard let message = messageID?.uuidString.lowercased() else { return nil }
            return "\(kind.rawValue)/\(message)/\(caseworker)"
        }
    }

    /// Ids as lowercase strings, as every other payload and the SQL rows below write them.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(applicationID.uuidString.lowercased(), forKey: .applicationID)
        try c.encodeIfPresent(caseworkerID?.uuidString.lowercased(), forKey: .caseworkerID)
        try c.encodeIfPresent(messageID?.uuidString.lowercased(), forKey: .messageID)
    }

    enum CodingKeys: String, CodingKey {
        case kind
        case applicationID = "application_id"
        case caseworkerID = "caseworker_id"
        case messageID = "message_id"
    }

    /// The `(tenant_id, payload, dedupe_key)` rows of ``JobQueue/insertJobs(on:from:)`` for a
    /// `new_application` e-mail to each row of the statement's CTE `recipients` (columns
    /// `tenant_id`, `application_id`, `caseworker_id`). The same payload and key as the Swift
    /// initialiser gives (tested).
    public static let newApplicationRows: SQLQuery = """
        SELECT tenant_id, jsonb_build_object('kind', 'new_application', 'application_id', application_id::text,
                                             'caseworker_id', caseworker_id::text),
               'new_application/' || application_id::text || '/' || caseworker_id::text
        FROM recipients
        """
}
