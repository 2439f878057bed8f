import FoundationEssentials
import Lease
#if canImport(Glibc)
import Glibc
#endif

/// A job to put on a queue.
public struct NewJob: Sendable {
    public var queue: QueueName
    /// The JSON payload, checked to be valid JSON within `QueueLimits.maxPayloadBytes`.
    public let payloadJSON: String
    public var tenantID: UUID?
    /// Higher runs first. Range of `Int16`.
    public var priority: Int16
    /// Not before this delay from the (database) time of enqueue.
    public var delay: Duration
    /// Attempts before the job goes to the dead letters; `nil` takes the queue's default.
    public var maxAttempts: Int?
    /// A second enqueue with the same key on the same queue is a no-op while the first is live.
    public var dedupeKey: String?

    /// A job whose payload is `payload` encoded as JSON.
    public init<Payload: Encodable>(
        queue: QueueName, payload: Payload, tenantID: UUID? = nil, priority: Int16 = 0,
        delay: Duration = .zero, maxAttempts: Int? = nil, dedupeKey: String? = nil
    ) throws(QueueError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data: Data
        do { data = try encoder.encode(payload) } catch {
            throw QueueError(code: .invalidPayload, message: "payload cannot be encoded as JSON: \(error)")
        }
        try self.init(queue: queue, jsonPayload: data, tenantID: tenantID, priority: priority, delay: delay, maxAttempts: maxAttempts, dedupeKey: dedupeKey)
    }

    /// A job whose payload is already JSON text; it is checked here.
    public init(
        queue: QueueName, jsonPayload: Data, tenantID: UUID? = nil, priority: Int16 = 0,
        delay: Duration = .zero, maxAttempts: Int? = nil, dedupeKey: String? = nil
    ) throws(QueueError) {
        guard jsonPayload.count <= QueueLimits.maxPayloadBytes else {
            throw QueueError(code: .payloadTooLarge, message: "payload is \(jsonPayload.count) bytes; the limit is \(QueueLimits.maxPayloadBytes) bytes (QueueLimits.maxPayloadBytes): put documents in tables and pass their ids")
        }
        guard (try? JSONDecoder().decode(AnyJSON.self, from: jsonPayload)) != nil,
              let text = String(data: jsonPayload, encoding: .utf8), !text.contains("\u{0}"), !text.contains("\\u0000")
        else {
            throw QueueError(code: .invalidPayload, message: "payload is not valid JSON (UTF-8, no NUL characters)")
        }
        if let maxAttempts, !(1...QueueLimits.maxAttempts).contains(maxAttempts) {
            throw QueueError(code: .invalidArgument, message: "maxAttempts must be between 1 and \(QueueLimits.maxAttempts)")
        }
        if let dedupeKey, dedupeKey.isEmpty || dedupeKey.count > QueueLimits.maxDedupeKeyLength {
            throw QueueError(code: .invalidArgument, message: "dedupeKey must be 1 to \(QueueLimits.maxDedupeKeyLength) characters")
        }
        guard delay >= .zero else { throw QueueError(code: .invalidArgument, message: "delay must not be negative") }
        self.queue = queue
        self.payloadJSON = text
        self.tenantID = tenantID
        self.priority = priority
        self.delay = delay
        self.maxAttempts = maxAttempts
        self.dedupeKey = dedupeKey
    }

    var delayMilliseconds: Int64 {
        delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000
    }
}

/// A claimed job, as a handler sees it.
public struct Job: Sendable, Identifiable {
    public let id: Int64
    public let queue: QueueName
    public let tenantID: UUID?
    /// The JSON payload as stored (jsonb normalises whitespace and key order).
    public let payload: Data
    public let priority: Int16
    /// This is attempt number `attempt` (1 on the first run).
    public let attempt: Int
    public let maxAttempts: Int
    public let createdAt: Date
    /// The claim this run holds; acks and retries only apply while the job still carries it.
    public let leaseID: UUID
    /// Until when this process may act on the claim (renewed while the lease is extended). Pass
    /// it to the outside system's client, which checks it at its point of no return and throws
    /// ``LeaseLostError`` past it; the consumer then leaves the job to its new owner.
    public let deadline: LeaseDeadline

    /// Decodes the payload.
    public func decodePayload<T: Decodable>(as type: T.Type = T.self) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: payload)
    }

    /// A key that stays the same across every attempt of this job: pass it to outside systems
    /// (e-mail `Message-ID`, postbox message id) so that they can drop duplicates.
    public var idempotencyKey: String { "\(queue.rawValue)-\(id)" }
}

/// Accepts any JSON value; decoding it checks that a payload is well-formed JSON.
struct AnyJSON: Decodable {
    init(from decoder: Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            while !array.isAtEnd { _ = try array.decode(AnyJSON.self) }
        } else if let object = try? decoder.container(keyedBy: AnyKey.self) {
            for key in object.allKeys { _ = try object.decode(AnyJSON.self, forKey: key) }
        } else {
            let value = try decoder.singleValueContainer()
            if value.decodeNil() { return }
            if (try? value.decode(Bool.self)) != nil { return }
            if (try? value.decode(Double.self)) != nil { return }
            _ = try value.decode(String.self)
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
