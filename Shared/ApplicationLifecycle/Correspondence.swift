import Domain
import FoundationEssentials
import JobQueue
import Postgres
import QueueContracts

/// Messages to and from the applicant and internal notes: each with its timeline event, its
/// audit entry and its jobs, on an application the caller has locked (``ApplicationLifecycle/lock(_:scope:in:)``).
extension ApplicationLifecycle {
    /// A file a caseworker sends with a `document`.
    public struct Upload: Sendable {
        public var filename: String
        public var contentType: String
        public var content: [UInt8]
        public init(filename: String, contentType: String, content: [UInt8]) {
            self.filename = filename
            self.contentType = contentType
            self.content = content
        }
    }

    /// Version + 1 for a change that is not a transition (a message, a note); returns the summary.
    public func touch(_ state: ApplicationState, in transaction: Transaction) async throws -> ApplicationSummary {
        let rows = try await transaction.query("""
            UPDATE applications SET version = version + 1, updated_at = now() WHERE tenant_id = \(state.tenantID) AND id = \(state.id)
            RETURNING id, reference, status, outcome, area_id, claimed_by, version
            """)
        wakeInboxes(of: [state.areaID], application: state.id, in: transaction)
        return try ApplicationSummary(row: rows[0])
    }

    /// Queues a caseworker's message to the applicant's postbox (the back channel rules are the
    /// caller's): the message, its files, a `message_sent` event, the audit entry and the
    /// `citizen-outbox` job. Returns the message's and the files' ids.
    public func queueOutboundMessage(
        kind: MessageKind, subject: String, body: String, uploads: [Upload], on state: ApplicationState,
        mailbox: UUID, trustLevel: TrustLevel, by caseworker: UUID, requestID: String?, in transaction: Transaction
    ) async throws -> (messageID: UUID, attachmentIDs: [UUID]) {
        let rows = try await transaction.query("""
            INSERT INTO messages (tenant_id, application_id, direction, kind, subject, body, trust_level, mailbox_id, delivery_state, sent_by)
            VALUES (\(state.tenantID), \(state.id), 'outbound', \(kind.rawValue), \(subject), \(body), \(trustLevel.rawValue), \(mailbox), 'queued', \(caseworker))
            RETURNING id
            """)
        let messageID = try rows[0].decode("id", as: UUID.self)
        var attachmentIDs: [UUID] = []
        for (position, file) in uploads.enumerated() {
            let inserted = try await transaction.query("""
                WITH file AS (
                    INSERT INTO attachments (tenant_id, application_id, origin, position, filename, content_type, size_bytes, sha256, content)
                    VALUES (\(state.tenantID), \(state.id), 'caseworker', \(position), \(file.filename), \(file.contentType), \(file.content.count),
                            \(Bytea(SHA256.hash(file.content))), \(Bytea(file.content)))
                    RETURNING id, tenant_id
                ), link AS (
                    INSERT INTO message_attachments (tenant_id, message_id, attachment_id) SELECT tenant_id, \(messageID), id FROM file
                )
                SELECT id FROM file
                """)
            attachmentIDs.append(try inserted[0].decode("id"))
        }
        try await recordEvent(.messageSent, visibility: "internal", actor: .caseworker(id: caseworker, isAdmin: false), on: state,
                              data: ["message_id": .text(messageID.lowercased), "kind": .text(kind.rawValue), "attachments": .number(attachmentIDs.count)], in: transaction)
        try await Audit.record(AuditEntry(
            tenantID: state.tenantID, actorKind: .caseworker, actorID: caseworker, action: "message.send", objectKind: "message",
            objectID: messageID.lowercased, applicationID: state.id, requestID: requestID,
            details: ["kind": kind.rawValue, "attachments": String(attachmentIDs.count)]), in: transaction)
        try await queue.enqueue(try NewJob(CitizenOutboxJob(messageID: messageID), tenantID: state.tenantID), in: transaction)
        return (messageID, attachmentIDs)
    }

    /// An internal note with its `note` event; audited when it stands alone (a note given with a
    /// forward or status change is named in that step's audit entry instead).
    public func addNote(_ text: String, on state: ApplicationState, by caseworker: UUID, audited requestID: String?,
                        in transaction: Transaction) async throws -> UUID {
        let rows = try await transaction.query("""
            INSERT INTO application_notes (tenant_id, application_id, author_id, body)
            VALUES (\(state.tenantID), \(state.id), \(caseworker), \(text)) RETURNING id
            """)
        let id = try rows[0].decode("id", as: UUID.self)
        try await recordEvent(.note, visibility: "internal", actor: .caseworker(id: caseworker, isAdmin: false), on: state,
                              data: ["note_id": .text(id.lowercased)], in: transaction)
        if let requestID {
            try await Audit.record(AuditEntry(
                tenantID: state.tenantID, actorKind: .caseworker, actorID: caseworker, action: "note.create", objectKind: "note",
                objectID: id.lowercased, applicationID: state.id, requestID: requestID), in: transaction)
        }
        return id
    }

    /// Stores the applicant's reply (once per postbox reply id) as an inbound message with the
    /// files the bridge stored, what the bridge cut or refused, a `reply_received` event and the
    /// audit entry. nil when this reply was stored before.
    public func recordReply(_ reply: CitizenReplyPayload, inReplyTo: UUID?, receivedAt: Date?, on state: ApplicationState,
                            mailbox: UUID, trustLevel: TrustLevel, jobID: Int64, in transaction: Transaction) async throws -> UUID? {
        let attachmentIDs = reply.attachment_ids.compactMap(UUID.init(uuidString:))
        let rows = try await transaction.query("""
            WITH reply AS (
                INSERT INTO messages (tenant_id, application_id, direction, kind, body, trust_level, mailbox_id, external_id, in_reply_to,
                                      created_at, text_truncated, rejected_attachments)
                VALUES (\(state.tenantID), \(state.id), 'inbound', 'reply', \(reply.text), \(trustLevel.rawValue), \(mailbox), \(reply.reply_id),
                        \(inReplyTo), coalesce(\(receivedAt)::timestamptz, now()), \(reply.text_truncated), \(PostgresJSON(reply.rejected_attachments))::jsonb)
                ON CONFLICT (tenant_id, direction, external_id) WHERE external_id IS NOT NULL DO NOTHING
                RETURNING id, tenant_id, application_id
            ), files AS (
                -- The bridge stored the reply's files; they belong to this message.
                INSERT INTO message_attachments (tenant_id, message_id, attachment_id)
                SELECT reply.tenant_id, reply.id, f.id FROM reply
                JOIN attachments f ON f.tenant_id = reply.tenant_id AND f.application_id = reply.application_id
                WHERE f.id = ANY(\(attachmentIDs)::uuid[])
            )
            SELECT id FROM reply
            """)
        guard let messageID = try rows.first?.decode("id", as: UUID.self) else { return nil }
        try await recordEvent(.replyReceived, visibility: "internal", actor: .applicant, on: state, data: [
            "message_id": .text(messageID.lowercased), "text_truncated": .flag(reply.text_truncated),
            "rejected_attachments": .number(reply.rejected_attachments.count),
        ], in: transaction)
        try await Audit.record(AuditEntry(
            tenantID: state.tenantID, actorKind: .applicant, action: "message.receive", objectKind: "message",
            objectID: messageID.lowercased, applicationID: state.id,
            details: ["job_id": String(jobID), "text_truncated": String(reply.text_truncated),
                      "rejected_attachments": String(reply.rejected_attachments.count)]), in: transaction)
        return messageID
    }

    /// A timeline event that is not a transition (messages, notes).
    func recordEvent(_ kind: TimelineEventKind, visibility: String, actor: Actor, on state: ApplicationState,
                     data: [String: TimelineValue], in transaction: Transaction) async throws {
        try await transaction.query("""
            INSERT INTO timeline_events (tenant_id, application_id, kind, visibility, actor_kind, actor_caseworker_id, data)
            VALUES (\(state.tenantID), \(state.id), \(kind.rawValue), \(visibility), \(actor.kind.rawValue), \(actor.caseworkerID),
                    \(PostgresJSON(data))::jsonb)
            """)
    }
}

/// A value in a timeline event's `data`: an id or name, a count, a flag.
public enum TimelineValue: Codable, Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    case text(String), number(Int), flag(Bool)
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .flag(value) }
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let flag = try? c.decode(Bool.self) { self = .flag(flag) }
        else if let number = try? c.decode(Int.self) { self = .number(number) }
        else { self = .text(try c.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .text(let text): try c.encode(text)
        case .number(let number): try c.encode(number)
        case .flag(let flag): try c.encode(flag)
        }
    }
}

