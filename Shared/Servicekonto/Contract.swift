import FoundationEssentials

// The adapter contract between Amtsweg and the citizen postbox (Servicekonto / BundID postbox,
// modelled on the ZBP message). Documented as OpenAPI 3.1 in
// `Services/servicekonto-bridge/servicekonto-contract.yaml`; field names are the wire names.

/// `POST {SERVICEKONTO_URL}/messages`: a message to a citizen's postbox. The receiver
/// deduplicates on `id` (our message id), so a retried delivery is harmless.
public struct PostboxMessage: Codable, Sendable, Equatable {
    public var id: String
    public var mailboxUuid: String
    public var sender: String
    public var title: String
    public var content: String
    public var service: String
    /// BundID trust level: basic→1, substantial→3, high→4.
    public var stork_qaa_level: Int
    public var applicationId: String
    public var reference: String
    public var attachments: [PostboxAttachment]?

    public init(
        id: String, mailboxUuid: String, sender: String, title: String, content: String, service: String,
        stork_qaa_level: Int, applicationId: String, reference: String, attachments: [PostboxAttachment]? = nil
    ) {
        self.id = id
        self.mailboxUuid = mailboxUuid
        self.sender = sender
        self.title = title
        self.content = content
        self.service = service
        self.stork_qaa_level = stork_qaa_level
        self.applicationId = applicationId
        self.reference = reference
        self.attachments = attachments
    }
}

public struct PostboxAttachment: Codable, Sendable, Equatable {
    public var filename: String
    public var mimeType: String
    /// Hex SHA-512 of the content.
    public var sha512sum: String
    public var contentLength: Int
    /// Base64 (RFC 4648 §4).
    public var content: String

    public init(filename: String, mimeType: String, sha512sum: String, contentLength: Int, content: String) {
        self.filename = filename
        self.mimeType = mimeType
        self.sha512sum = sha512sum
        self.contentLength = contentLength
        self.content = content
    }
}

/// BundID postbox status values.
public enum PostboxStatusValue: String, Codable, Sendable, CaseIterable {
    case received = "RECEIVED"
    case processing = "PROCESSING"
    case actionRequired = "ACTION_REQUIRED"
    case completed = "COMPLETED"
}

/// `POST {SERVICEKONTO_URL}/status`: the status of an application as the applicant sees it.
/// `id` (our message id) and `mailboxUuid` are additions to the BundID status call: the
/// receiver deduplicates on `id` and files the status in that mailbox.
public struct PostboxStatusUpdate: Codable, Sendable, Equatable {
    public var id: String
    public var mailboxUuid: String
    public var applicationId: String
    public var status: PostboxStatusValue
    public var publicServiceName: String
    public var senderName: String
    /// RFC 3339 time the status was set.
    public var createdDate: String
    public var statusDetails: String?

    public init(
        id: String, mailboxUuid: String, applicationId: String, status: PostboxStatusValue, publicServiceName: String,
        senderName: String, createdDate: String, statusDetails: String? = nil
    ) {
        self.id = id
        self.mailboxUuid = mailboxUuid
        self.applicationId = applicationId
        self.status = status
        self.publicServiceName = publicServiceName
        self.senderName = senderName
        self.createdDate = createdDate
        self.statusDetails = statusDetails
    }
}

/// Answer to `POST /messages` and `POST /status`: 201 on first receipt, 200 for a duplicate
/// `id` (same `receiverId` as the first time).
public struct PostboxReceipt: Codable, Sendable, Equatable {
    public var id: String
    /// The postbox's own id for the stored message.
    public var receiverId: String
    /// RFC 3339 time of first receipt.
    public var receivedAt: String
    public var duplicate: Bool

    public init(id: String, receiverId: String, receivedAt: String, duplicate: Bool) {
        self.id = id
        self.receiverId = receiverId
        self.receivedAt = receivedAt
        self.duplicate = duplicate
    }
}

/// One applicant's answer, from `GET {SERVICEKONTO_URL}/replies?after=<cursor>`.
public struct PostboxReply: Codable, Sendable, Equatable {
    /// The postbox's id of the reply: stable, unique.
    public var id: String
    public var mailboxUuid: String
    /// Our message id the applicant answers (nil: a message of their own).
    public var inReplyTo: String?
    public var applicationId: String?
    public var text: String
    public var attachments: [PostboxAttachment]?
    /// RFC 3339.
    public var createdAt: String

    public init(
        id: String, mailboxUuid: String, inReplyTo: String?, applicationId: String?, text: String,
        attachments: [PostboxAttachment]? = nil, createdAt: String
    ) {
        self.id = id
        self.mailboxUuid = mailboxUuid
        self.inReplyTo = inReplyTo
        self.applicationId = applicationId
        self.text = text
        self.attachments = attachments
        self.createdAt = createdAt
    }
}

/// A page of replies in the order they arrived. Pass `cursor` as `after` next time; it is
/// opaque, and equals `after` when there is nothing new.
public struct PostboxReplyPage: Codable, Sendable, Equatable {
    public var replies: [PostboxReply]
    public var cursor: String?

    public init(replies: [PostboxReply], cursor: String?) {
        self.replies = replies
        self.cursor = cursor
    }
}

/// Contract limits (also in the OpenAPI document).
public enum PostboxLimits {
    public static let maxTitleLength = 255
    public static let maxContentLength = 100_000
    public static let maxReplyTextLength = 10_000
    public static let maxAttachments = 10
    public static let maxRepliesPerPage = 500
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-23T12:00:00.123Z`.
public enum RFC3339 {
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    public static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}
