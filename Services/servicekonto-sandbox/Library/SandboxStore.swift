import FoundationEssentials
import Servicekonto
import Synchronization

/// Everything the sandbox received, in memory (it is a development and test stand-in: a
/// restart forgets all mailboxes, replies and tokens).
public final class SandboxStore: Sendable {
    public struct StoredMessage: Codable, Sendable {
        public var receiverId: String
        public var receivedAt: String
        /// Times this `id` was delivered (1 = no duplicates).
        public var deliveries: Int
        public var message: PostboxMessage
    }

    public struct StoredStatus: Codable, Sendable {
        public var receiverId: String
        public var receivedAt: String
        public var deliveries: Int
        public var status: PostboxStatusUpdate
    }

    public struct Mailbox: Codable, Sendable {
        public var mailboxUuid: String
        public var closed: Bool
        public var messages: [StoredMessage]
        public var statuses: [StoredStatus]
        public var replies: [PostboxReply]
    }

    /// Counters for tests and demos.
    public struct Statistics: Codable, Sendable, Equatable {
        /// Distinct message/status ids stored.
        public var messagesStored = 0
        public var statusesStored = 0
        /// Deliveries of an id already stored.
        public var duplicates = 0
        public var rejected = 0
        public var serverErrors = 0
        public var rateLimited = 0
        public var dropped = 0
        public var slow = 0
        public var tokensIssued = 0
        public var unauthorized = 0
        public var repliesCreated = 0
    }

    /// One stored message or status, in the order they were first stored (``journal(after:limit:)``).
    public struct JournalEntry: Codable, Sendable {
        /// 1-based position in the journal; pass the last one seen as `after`.
        public var sequence: Int
        /// `message` or `status`.
        public var kind: String
        public var id: String
        public var applicationId: String?
        public var mailboxUuid: String
        public var receivedAt: String
        /// Times this id was delivered so far (1 = no duplicates).
        public var deliveries: Int
    }

    public struct JournalPage: Codable, Sendable {
        public var entries: [JournalEntry]
        /// The sequence to pass as `after` for the next page.
        public var last: Int
    }

    private enum Location { case message(String, Int), status(String, Int) }

    private struct State {
        var mailboxes: [String: Mailbox] = [:]
        var byID: [String: Location] = [:]
        /// Ids in the order they were first stored.
        var journal: [String] = []
        var replies: [PostboxReply] = []
        var statistics = Statistics()
        var tokens: [String: ContinuousClock.Instant] = [:]
        var nextReceiver = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var statistics: Statistics { state.withLock { $0.statistics } }

    func count(_ update: @Sendable (inout Statistics) -> Void) { state.withLock { update(&$0.statistics) } }

    public func mailbox(_ id: String) -> Mailbox? { state.withLock { $0.mailboxes[id] } }

    func close(mailbox id: String) {
        state.withLock { state in
            state.mailboxes[id, default: Mailbox(mailboxUuid: id, closed: false, messages: [], statuses: [], replies: [])].closed = true
        }
    }

    enum StoreOutcome {
        case stored(PostboxReceipt)
        case duplicate(PostboxReceipt)
        case closed
    }

    func store(message: PostboxMessage) -> StoreOutcome {
        state.withLock { state in
            if let location = state.byID[message.id], case .message(let mailbox, let index) = location {
                state.mailboxes[mailbox]!.messages[index].deliveries += 1
                state.statistics.duplicates += 1
                let stored = state.mailboxes[mailbox]!.messages[index]
                return .duplicate(PostboxReceipt(id: message.id, receiverId: stored.receiverId, receivedAt: stored.receivedAt, duplicate: true))
            }
            if state.mailboxes[message.mailboxUuid]?.closed == true {
                state.statistics.rejected += 1
                return .closed
            }
            state.nextReceiver += 1
            let receipt = PostboxReceipt(id: message.id, receiverId: "zbp-m-\(state.nextReceiver)", receivedAt: RFC3339.format(Date()), duplicate: false)
            var box = state.mailboxes[message.mailboxUuid] ?? Mailbox(mailboxUuid: message.mailboxUuid, closed: false, messages: [], statuses: [], replies: [])
            box.messages.append(StoredMessage(receiverId: receipt.receiverId, receivedAt: receipt.receivedAt, deliveries: 1, message: message))
            state.byID[message.id] = .message(message.mailboxUuid, box.messages.count - 1)
            state.journal.append(message.id)
            state.mailboxes[message.mailboxUuid] = box
            state.statistics.messagesStored += 1
            return .stored(receipt)
        }
    }

    func store(status: PostboxStatusUpdate) -> StoreOutcome {
        state.withLock { state in
            if let location = state.byID[status.id], case .status(let mailbox, let index) = location {
                state.mailboxes[mailbox]!.statuses[index].deliveries += 1
                state.statistics.duplicates += 1
                let stored = state.mailboxes[mailbox]!.statuses[index]
                return .duplicate(PostboxReceipt(id: status.id, receiverId: stored.receiverId, receivedAt: stored.receivedAt, duplicate: true))
            }
            if state.mailboxes[status.mailboxUuid]?.closed == true {
                state.statistics.rejected += 1
                return .closed
            }
            state.nextReceiver += 1
            let receipt = PostboxReceipt(id: status.id, receiverId: "zbp-s-\(state.nextReceiver)", receivedAt: RFC3339.format(Date()), duplicate: false)
            var box = state.mailboxes[status.mailboxUuid] ?? Mailbox(mailboxUuid: status.mailboxUuid, closed: false, messages: [], statuses: [], replies: [])
            box.statuses.append(StoredStatus(receiverId: receipt.receiverId, receivedAt: receipt.receivedAt, deliveries: 1, status: status))
            state.byID[status.id] = .status(status.mailboxUuid, box.statuses.count - 1)
            state.journal.append(status.id)
            state.mailboxes[status.mailboxUuid] = box
            state.statistics.statusesStored += 1
            return .stored(receipt)
        }
    }

    /// Stored messages and statuses after position `after`, oldest first, with their delivery counts.
    public func journal(after: Int, limit: Int) -> JournalPage {
        state.withLock { state in
            let start = min(max(after, 0), state.journal.count)
            let end = min(start + max(limit, 1), state.journal.count)
            let entries = (start..<end).map { position -> JournalEntry in
                let id = state.journal[position]
                switch state.byID[id]! {
                case .message(let box, let index):
                    let stored = state.mailboxes[box]!.messages[index]
                    return JournalEntry(sequence: position + 1, kind: "message", id: id, applicationId: stored.message.applicationId,
                                        mailboxUuid: box, receivedAt: stored.receivedAt, deliveries: stored.deliveries)
                case .status(let box, let index):
                    let stored = state.mailboxes[box]!.statuses[index]
                    return JournalEntry(sequence: position + 1, kind: "status", id: id, applicationId: stored.status.applicationId,
                                        mailboxUuid: box, receivedAt: stored.receivedAt, deliveries: stored.deliveries)
                }
            }
            return JournalPage(entries: entries, last: end)
        }
    }

    /// A reply as if the applicant wrote it in their postbox.
    func addReply(mailbox id: String, inReplyTo: String?, text: String, attachments: [PostboxAttachment]?) -> PostboxReply {
        state.withLock { state in
            // The application is the one of the answered message, as the real postbox knows it.
            var applicationID: String?
            if let inReplyTo, let location = state.byID[inReplyTo] {
                switch location {
                case .message(let box, let index): applicationID = state.mailboxes[box]!.messages[index].message.applicationId
                case .status(let box, let index): applicationID = state.mailboxes[box]!.statuses[index].status.applicationId
                }
            }
            let reply = PostboxReply(
                id: "zbp-r-\(state.replies.count + 1)", mailboxUuid: id, inReplyTo: inReplyTo, applicationId: applicationID,
                text: text, attachments: attachments, createdAt: RFC3339.format(Date()))
            state.replies.append(reply)
            state.mailboxes[id, default: Mailbox(mailboxUuid: id, closed: false, messages: [], statuses: [], replies: [])].replies.append(reply)
            state.statistics.repliesCreated += 1
            return reply
        }
    }

    /// Replies after the cursor (the count of replies already seen), oldest first.
    func replies(after cursor: String?, limit: Int) -> PostboxReplyPage? {
        state.withLock { state in
            let start: Int
            if let cursor {
                guard cursor.hasPrefix("r"), let value = Int(cursor.dropFirst()), value >= 0 else { return nil }
                start = min(value, state.replies.count)
            } else {
                start = 0
            }
            let end = min(start + limit, state.replies.count)
            return PostboxReplyPage(replies: Array(state.replies[start..<end]), cursor: "r\(end)")
        }
    }

    // MARK: Tokens

    func issueToken(lifetime: Duration) -> String {
        var bytes = [UInt8](repeating: 0, count: 24)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        let token = "sbx-" + bytes.map { String($0, radix: 16) }.joined()
        state.withLock { state in
            state.tokens[token] = ContinuousClock.now + lifetime
            state.statistics.tokensIssued += 1
        }
        return token
    }

    func isValid(token: String) -> Bool {
        state.withLock { state in
            guard let expiry = state.tokens[token] else { return false }
            if ContinuousClock.now >= expiry {
                state.tokens[token] = nil
                return false
            }
            return true
        }
    }

    /// Every token stops working at once (simulates expiry or a key rotation at the postbox).
    func revokeTokens() -> Int {
        state.withLock { state in
            defer { state.tokens.removeAll() }
            return state.tokens.count
        }
    }
}
