/// A queue operation the caller got wrong, with a stable code.
public struct QueueError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The queue name is malformed or not defined in `queue_definitions`.
        public static let unknownQueue = Code("unknown_queue")
        /// The payload exceeds `QueueLimits.maxPayloadBytes`.
        public static let payloadTooLarge = Code("payload_too_large")
        /// The payload is not a JSON value.
        public static let invalidPayload = Code("invalid_payload")
        /// Another argument is out of range (priority, attempts, dedupe key, delay).
        public static let invalidArgument = Code("invalid_argument")
        /// No such dead letter.
        public static let notFound = Code("not_found")
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "QueueError(\(code)): \(message)" }
}

/// The named limits of the queue, in one place.
public enum QueueLimits {
    /// Largest JSON payload of one job, in bytes (UTF-8). Payloads carry ids, not documents.
    public static let maxPayloadBytes = 64 * 1024
    /// Longest dedupe key, in characters (also a CHECK in the table).
    public static let maxDedupeKeyLength = 200
    /// Attempts allowed per job (also a CHECK in the table).
    public static let maxAttempts = 1000
    /// Most jobs one claim takes.
    public static let maxBatchSize = 1000
}
