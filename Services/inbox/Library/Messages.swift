import ApplicationLifecycle
import Domain
import FoundationEssentials
import HTTPServer
import JobQueue
import Postgres

enum MessageLimits {
    /// Largest request body of `POST …/messages` (documents carry base64 attachments).
    static let maxBodyBytes = 32 << 20
    static let maxAttachments = 10
    static let maxAttachmentBytes = 10 << 20
    static let maxTotalAttachmentBytes = 25 << 20
}

/// The body of `POST /v1/applications/{id}/messages`.
struct MessageBody: Decodable, Validatable {
    struct Upload: Decodable {
        var filename: String
        var contentType: String
        /// nil when `content_base64` is not valid base64.
        var content: [UInt8]?

        enum CodingKeys: String, CodingKey {
            case filename
            case contentType = "content_type"
            case contentBase64 = "content_base64"
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            filename = try c.decode(String.self, forKey: .filename)
            contentType = try c.decode(String.self, forKey: .contentType)
            content = Base64.decode(try c.decode(String.self, forKey: .contentBase64))
        }
    }

    var kind: String
    var subject: String
    var body: String
    var attachments: [Upload]?

    static let kinds = ["question", "information", "document", "decision"]

    func validate() -> [Problem.FieldError] {
        var errors: [Problem.FieldError] = []
        if !Self.kinds.contains(kind) {
            errors.append(.init(field: "kind", code: "invalid-kind", message: "must be question, information, document or decision"))
        }
        if subject.unicodeScalars.allSatisfy(\.properties.isWhitespace) {
            errors.append(.init(field: "subject", code: "blank", message: "must not be blank"))
        } else if subject.count > 255 || subject.unicodeScalars.contains(where: { $0.value < 0x20 }) {
            errors.append(.init(field: "subject", code: "invalid", message: "must be one line of at most 255 characters"))
        }
        if body.unicodeScalars.allSatisfy(\.properties.isWhitespace) {
            errors.append(.init(field: "body", code: "blank", message: "must not be blank"))
        } else if body.count > 100_000 || body.unicodeScalars.contains(where: { $0.value == 0 }) {
            errors.append(.init(field: "body", code: "too-long", message: "must be at most 100000 characters without NUL"))
        }
        let files = attachments ?? []
        if kind == "document" && files.isEmpty {
            errors.append(.init(field: "attachments", code: "missing", message: "a document needs at least one attachment"))
        }
        if kind != "document" && !files.isEmpty {
            errors.append(.init(field: "attachments", code: "not-allowed", message: "only documents carry attachments"))
        }
        if files.count > MessageLimits.maxAttachments {
            errors.append(.init(field: "attachments", code: "too-many", message: "at most \(MessageLimits.maxAttachments) attachments"))
        }
        var total = 0
        for (index, file) in files.enumerated() {
            let field = "attachments[\(index)]"
            let name = file.filename
            if name.isEmpty || name.utf8.count > 255 || name == "." || name == ".."
                || name.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "/" || $0 == "\\" || $0.value == 0x7F }) {
                errors.append(.init(field: "\(field).filename", code: "invalid", message: "must be a plain file name of 1 to 255 bytes"))
            }
            if !AttachmentTypes.allowed.contains(file.contentType) {
                errors.append(.init(field: "\(field).content_type", code: "unsupported", message: "is not an allowed content type"))
            }
            guard let content = file.content else {
                errors.append(.init(field: "\(field).content_base64", code: "invalid-base64", message: "is not valid base64"))
                continue
            }
            total += content.count
            if content.count > MessageLimits.maxAttachmentBytes {
                errors.append(.init(field: "\(field).content_base64", code: "too-large", message: "must be at most 10 MiB"))
            }
        }
        if total > MessageLimits.maxTotalAttachmentBytes {
            errors.append(.init(field: "attachments", code: "too-large", message: "together at most 25 MiB"))
        }
        return errors
    }
}

enum AttachmentTypes {
    static let allowed: Set<String> = [
        "application/pdf", "image/jpeg", "image/png", "image/tiff", "text/plain",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ]
}

/// What `POST …/messages` answers.
struct SentMessage: Encodable, Sendable {
    struct Message: Encodable, Sendable {
        var id: String
        var kind: String
        var deliveryState: String
        var trustLevel: String
        var attachmentIDs: [String]
        enum CodingKeys: String, CodingKey {
            case id, kind
            case deliveryState = "delivery_state"
            case trustLevel = "trust_level"
            case attachmentIDs = "attachment_ids"
        }
    }
    var message: Message
    var application: ApplicationSummary
}

/// Applies the back channel rules (DESIGN.md) and queues an outbound message.
struct MessageSender: Sendable {
    let lifecycle: ApplicationLifecycle

    static func refused(_ code: String, _ detail: String) -> HTTPError {
        HTTPError(.unprocessableContent, code: code, detail: detail)
    }

    func send(_ body: MessageBody, on app: ApplicationState, version: Int, principal p: Principal, requestID: String,
              in tx: Transaction) async throws -> SentMessage {
        try ApplicationLifecycle.requireNotHeldByOther(app, p.id)
        try ApplicationLifecycle.requireVersion(app, version)
        guard app.status == .inProgress || app.status == .awaitingApplicant else {
            throw HTTPError(.conflict, code: "invalid-state", detail: "Messages are sent while the application is in progress or awaiting the applicant.",
                            extensions: ["current_state": app.status.rawValue])
        }
        try ApplicationLifecycle.requireHolder(app, p.id)
        // Back channel rules.
        guard let mailbox = app.mailboxID, let trust = app.trustLevel else {
            throw Self.refused("no-postbox", "The applicant has no citizen postbox; nothing can be sent over the back channel.")
        }
        let kind = MessageKind(rawValue: body.kind)!
        switch kind {
        case .decision:
            guard app.decisionsViaBackChannel else {
                throw Self.refused("decisions-not-allowed",
                                   "Decisions (Bescheide) are not sent over the back channel: the tenant's policy decisions_via_back_channel is off.")
            }
        case .document:
            guard app.documentConsent else {
                throw Self.refused("document-consent-missing", "The applicant has not consented to receiving documents over the back channel.")
            }
            guard trust >= app.documentTrustLevel else {
                throw Self.refused("trust-level-too-low",
                                   "The applicant's trust level (\(trust.rawValue)) is below the service's document trust level (\(app.documentTrustLevel.rawValue)).")
            }
        case .question:
            guard app.status == .inProgress else {
                throw HTTPError(.conflict, code: "invalid-transition", detail: "A question is already awaiting the applicant's reply.",
                                extensions: ["current_state": app.status.rawValue])
            }
        default:
            break
        }
        let uploads = (body.attachments ?? []).map {
            ApplicationLifecycle.Upload(filename: $0.filename, contentType: $0.contentType, content: $0.content ?? [])
        }
        let queued = try await lifecycle.queueOutboundMessage(
            kind: kind, subject: body.subject, body: body.body, uploads: uploads, on: app, mailbox: mailbox, trustLevel: trust,
            by: p.id, requestID: requestID, in: tx)
        let summary: ApplicationSummary
        if kind == .question {
            summary = try await lifecycle.apply(.ask, application: app.id, scope: p.scope, actor: p.actor, expectedVersion: app.version,
                                                data: ["message_id": queued.messageID.lowercased], requestID: requestID, in: tx).summary
        } else {
            summary = try await lifecycle.touch(app, in: tx)
        }
        return SentMessage(
            message: .init(id: queued.messageID.lowercased, kind: kind.rawValue, deliveryState: DeliveryState.queued.rawValue,
                           trustLevel: trust.rawValue, attachmentIDs: queued.attachmentIDs.map(\.lowercased)),
            application: summary
        )
    }
}
