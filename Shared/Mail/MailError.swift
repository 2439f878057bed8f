/// Building a message or a transport failed before anything was sent.
public struct MailError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public static let invalidAddress = Code(name: "invalid address")
        /// A header value with CR, LF or another control character (header injection).
        public static let invalidHeader = Code(name: "invalid header")
        public static let invalidTemplate = Code(name: "invalid template")
        public static let invalidConfiguration = Code(name: "invalid configuration")
        public var description: String { name }
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// Sending failed. `transient` failures are worth retrying (connection errors, timeouts,
/// SMTP 4xx); `permanent` ones are not (SMTP 5xx for the sender, a recipient or the message);
/// `leaseLost`: the send's deadline passed before its point of no return and nothing was sent.
///
/// `reason` holds libcurl's error text and the server's reply, never message content.
public struct MailDeliveryError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable { case transient, permanent, leaseLost = "lease_lost" }

    public var kind: Kind
    /// The SMTP reply code, when the server answered.
    public var replyCode: Int?
    public var reason: String

    public init(kind: Kind, replyCode: Int? = nil, reason: String) {
        self.kind = kind
        self.replyCode = replyCode
        self.reason = reason
    }

    public var isPermanent: Bool { kind == .permanent }
    public var description: String { "\(kind) mail delivery failure: \(reason)" }
}
