/// The name of a queue: lowercase letters, digits and `-`, starting with a letter, at most 63
/// characters. A queue must also be defined in the `queue_definitions` table.
public struct QueueName: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) throws(QueueError) {
        guard Self.isValid(rawValue) else { throw QueueError(code: .unknownQueue, message: "invalid queue name '\(rawValue)': use lowercase letters, digits and '-', starting with a letter, at most 63 characters") }
        self.rawValue = rawValue
    }

    private init(known: String) { rawValue = known }

    public var description: String { rawValue }

    /// The NOTIFY channel consumers of this queue LISTEN on.
    public var channel: String { WakeChannel.queue(self) }

    static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first, first >= 97, first <= 122, name.utf8.count <= 63 else { return false }
        return name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
    }

    /// Accepted applications waiting to be routed (intake → routing).
    public static let route = QueueName(known: "route")
    /// E-mails to caseworkers (routing, inbox → notification).
    public static let notifyEmail = QueueName(known: "notify-email")
    /// Messages to the applicant's postbox (routing, inbox → servicekonto-bridge).
    public static let citizenOutbox = QueueName(known: "citizen-outbox")
    /// Replies of applicants (servicekonto-bridge → inbox).
    public static let citizenReply = QueueName(known: "citizen-reply")
}
