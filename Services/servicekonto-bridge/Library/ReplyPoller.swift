import FoundationEssentials
import JobQueue
import Logging
import Metrics
import Postgres
import QueueContracts
import Servicekonto
import ServiceRuntime

/// Polls `GET /replies?after=<cursor>`. The cursor lives in `servicekonto_reply_cursors`
/// (tenant NULL, endpoint = the postbox URL). Each page is applied in one transaction: the
/// replies' `citizen-reply` jobs (dedupe key = reply id) and the cursor moved with a
/// compare-and-set on its old value, so a crash never loses or doubles a reply and two bridge
/// replicas never both queue the same page.
public final class ReplyPoller: Service {
    public let name = "reply-poller"
    let pool: PostgresPool
    let queue: JobQueue
    let client: ServicekontoClient
    let configuration: BridgeConfiguration
    let logger: Logger
    let queued: Counter
    let failures: Counter

    public init(pool: PostgresPool, queue: JobQueue, client: ServicekontoClient, configuration: BridgeConfiguration, logger: Logger, metrics: MetricsRegistry) {
        self.pool = pool
        self.queue = queue
        self.client = client
        self.configuration = configuration
        self.logger = logger.with(["component": "reply-poller"])
        queued = metrics.counter("servicekonto_replies_queued_total", help: "Replies taken from the postbox onto citizen-reply")
        failures = metrics.counter("servicekonto_reply_poll_failures_total", help: "Failed polls of GET /replies")
    }

    var endpoint: String { configuration.client.baseURL }

    public func run(shutdown: ShutdownSignal) async throws {
        var failuresInRow = 0
        while !shutdown.isTriggered {
            var again = false
            do {
                again = try await pollOnce() >= configuration.replyPageSize
                failuresInRow = 0
            } catch {
                failuresInRow += 1
                failures.increment(by: 1)
                if failuresInRow == 1 || failuresInRow % 20 == 0 {
                    logger.warning("polling replies failed; trying again", ["error": String(describing: error)])
                }
            }
            if again { continue }
            await waitOrShutdown(configuration.replyPollInterval, shutdown)
        }
    }

    private func waitOrShutdown(_ interval: Duration, _ shutdown: ShutdownSignal) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: interval) }
            group.addTask { await shutdown.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    struct CursorMoved: Error {}

    /// One page: fetch, then queue and move the cursor in one transaction. Returns the number
    /// of replies queued.
    @discardableResult
    public func pollOnce() async throws -> Int {
        let rows = try await pool.query("""
            SELECT cursor FROM servicekonto_reply_cursors WHERE tenant_id IS NULL AND endpoint = \(endpoint)
            """)
        let exists = !rows.isEmpty
        let old = try rows.first?.decode("cursor", as: String?.self)
        let page = try await client.replies(after: old, limit: configuration.replyPageSize)
        let new = page.cursor ?? old
        if page.replies.isEmpty && new == old { return 0 }
        do {
            try await pool.withTransaction { transaction in
                let moved: PostgresRows
                if exists {
                    moved = try await transaction.query("""
                        UPDATE servicekonto_reply_cursors SET cursor = \(new), updated_at = now()
                        WHERE tenant_id IS NULL AND endpoint = \(endpoint) AND cursor IS NOT DISTINCT FROM \(old)
                        RETURNING endpoint
                        """)
                } else {
                    moved = try await transaction.query("""
                        INSERT INTO servicekonto_reply_cursors (tenant_id, endpoint, cursor) VALUES (NULL, \(endpoint), \(new))
                        ON CONFLICT ON CONSTRAINT servicekonto_reply_cursors_unique DO NOTHING
                        RETURNING endpoint
                        """)
                }
                guard moved.count == 1 else { throw CursorMoved() }
                for reply in page.replies { try await self.queue(reply, in: transaction) }
            }
        } catch is CursorMoved {
            // Another replica took this page; its transaction queued the replies.
            return 0
        }
        queued.increment(by: Double(page.replies.count))
        if !page.replies.isEmpty {
            logger.info("replies queued", ["count": String(page.replies.count), "cursor": new ?? ""])
        }
        return page.replies.count
    }

    private func queue(_ reply: PostboxReply, in transaction: Transaction) async throws {
        let mailbox = UUID(uuidString: reply.mailboxUuid)
        var tenantID: UUID?
        var applicationID: UUID?
        var inReplyTo: UUID?
        if let answered = reply.inReplyTo.flatMap(UUID.init(uuidString:)), let mailbox {
            let rows = try await transaction.query("""
                SELECT tenant_id, application_id FROM messages
                WHERE id = \(answered) AND direction = 'outbound' AND mailbox_id = \(mailbox)
                """)
            if let row = rows.first {
                tenantID = try row.decode("tenant_id")
                applicationID = try row.decode("application_id")
                inReplyTo = answered
            }
        }
        if applicationID == nil, let application = reply.applicationId.flatMap(UUID.init(uuidString:)), let mailbox {
            let rows = try await transaction.query("""
                SELECT tenant_id, id FROM applications WHERE id = \(application) AND postbox_mailbox_id = \(mailbox)
                """)
            if let row = rows.first {
                tenantID = try row.decode("tenant_id")
                applicationID = try row.decode("id")
            }
        }
        var attachmentIDs: [String] = []
        var rejected: [CitizenReplyPayload.RejectedAttachment] = []
        for (index, attachment) in (reply.attachments ?? []).enumerated() {
            guard let tenantID, let applicationID else {
                rejected.append(.init(filename: attachment.filename, reason: "the reply belongs to no known application"))
                continue
            }
            guard let data = Data(base64Encoded: attachment.content) else {
                rejected.append(.init(filename: attachment.filename, reason: "content is not base64"))
                continue
            }
            let bytes = Array(data)
            guard bytes.count <= 10 << 20 else {
                rejected.append(.init(filename: attachment.filename, reason: "larger than 10 MiB"))
                continue
            }
            guard SHA512.hex(bytes) == attachment.sha512sum.lowercased() else {
                rejected.append(.init(filename: attachment.filename, reason: "sha512sum does not match the content"))
                continue
            }
            let rows = try await transaction.query("""
                INSERT INTO attachments (tenant_id, application_id, origin, position, filename, content_type, size_bytes, sha256, content)
                VALUES (\(tenantID), \(applicationID), 'applicant', \(Int16(min(index, 32000))), \(Self.safeFilename(attachment.filename)),
                        \(Self.safeContentType(attachment.mimeType)), \(bytes.count), \(Data(sha256(bytes))), \(data))
                RETURNING id
                """)
            attachmentIDs.append(try rows[0].decode("id", as: UUID.self).uuidString.lowercased())
        }
        let truncated = reply.text.count > PostboxLimits.maxReplyTextLength
        let payload = CitizenReplyPayload(
            reply_id: reply.id, mailbox_id: reply.mailboxUuid.lowercased(), application_id: applicationID?.uuidString.lowercased(),
            in_reply_to: inReplyTo?.uuidString.lowercased(), text: truncated ? String(reply.text.prefix(PostboxLimits.maxReplyTextLength)) : reply.text,
            text_truncated: truncated, received_at: reply.createdAt, attachment_ids: attachmentIDs, rejected_attachments: rejected)
        if tenantID == nil {
            logger.warning("reply matches no application; queued without tenant", ["reply_id": reply.id])
        }
        _ = try await queue.enqueue(try NewJob(payload, tenantID: tenantID), in: transaction)
    }

    /// Fits the `attachments_filename_check`: no path separators or control characters.
    static func safeFilename(_ name: String) -> String {
        var cleaned = String(name.unicodeScalars.map { scalar -> Character in
            if scalar == "/" || scalar == "\\" || scalar.value < 0x20 || scalar.value == 0x7f { return "_" }
            return Character(scalar)
        })
        if cleaned.count > 255 { cleaned = String(cleaned.suffix(255)) }
        if cleaned.isEmpty || cleaned == "." || cleaned == ".." { cleaned = "attachment" }
        return cleaned
    }

    static func safeContentType(_ type: String) -> String {
        let lowered = type.lowercased()
        let parts = lowered.split(separator: "/", omittingEmptySubsequences: false)
        let allowed = { (part: Substring) -> Bool in
            guard let first = part.first, first.isASCII, first.isLetter || first.isNumber else { return false }
            return part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".+-".contains($0)) }
        }
        return parts.count == 2 && allowed(parts[0]) && allowed(parts[1]) ? lowered : "application/octet-stream"
    }
}
