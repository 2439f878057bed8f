import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Postgres
import Synchronization

/// The producer side of the queue and its administration: enqueue inside the caller's
/// transaction, dead letters, statistics.
public final class JobQueue: Sendable {
    public let pool: PostgresPool
    public let notifier: QueueNotifier?
    private let defaults = Mutex<[String: Int]>([:])

    public init(pool: PostgresPool, notifier: QueueNotifier?) {
        self.pool = pool
        self.notifier = notifier
    }

    // MARK: Enqueue

    /// Puts `job` on its queue as part of `transaction`: it exists if and only if the transaction
    /// commits. Returns the job's id, or `nil` when a live job with the same dedupe key exists.
    @discardableResult
    public func enqueue(_ job: NewJob, in transaction: Transaction) async throws -> Int64? {
        let maxAttempts = try await resolvedMaxAttempts(job, transaction)
        let rows = try await transaction.query(QueueSQL.insert(job, maxAttempts: maxAttempts))
        wakeAfterCommit([job.queue], transaction)
        return try rows.first?.decode("id", as: Int64.self)
    }

    /// Enqueues many jobs with one statement. Returns the ids of the inserted jobs (deduplicated
    /// ones are left out).
    @discardableResult
    public func enqueue(_ jobs: [NewJob], in transaction: Transaction) async throws -> [Int64] {
        guard !jobs.isEmpty else { return [] }
        var maxAttempts: [Int] = []
        maxAttempts.reserveCapacity(jobs.count)
        for job in jobs { maxAttempts.append(try await resolvedMaxAttempts(job, transaction)) }
        let rows = try await transaction.query(QueueSQL.insertBatch(
            queues: jobs.map(\.queue.rawValue), tenants: jobs.map(\.tenantID),
            payloads: jobs.map { PostgresRawJSON($0.payloadJSON) }, priorities: jobs.map { Int($0.priority) },
            delays: jobs.map(\.delayMilliseconds), maxAttempts: maxAttempts, dedupeKeys: jobs.map(\.dedupeKey)
        ))
        wakeAfterCommit(Array(Set(jobs.map(\.queue))), transaction)
        return try rows.map { try $0.decode("id", as: Int64.self) }
    }

    /// Enqueues in a transaction of its own.
    @discardableResult
    public func enqueue(_ job: NewJob) async throws -> Int64? {
        try await pool.withTransaction { try await self.enqueue(job, in: $0) }
    }

    /// Wakes the consumers of `queues` once `transaction` has committed (what `enqueue` does;
    /// for producers that insert with ``insertJobs(on:from:)``).
    public func wakeAfterCommit(_ queues: [QueueName], _ transaction: Transaction) {
        guard let notifier else { return }
        transaction.afterCommit { for queue in queues { notifier.wake(queue) } }
    }

    /// The job's own limit, or its queue's default. Unknown queues are refused here, before the
    /// insert, with a clear error. The definitions are read once, on the caller's own connection
    /// (never a second pooled one: with every connection inside a transaction that would deadlock).
    private func resolvedMaxAttempts(_ job: NewJob, _ transaction: Transaction) async throws -> Int {
        if let known = defaults.withLock({ $0[job.queue.rawValue] }) { return job.maxAttempts ?? known }
        let rows = try await transaction.query(QueueSQL.definitions())
        var loaded: [String: Int] = [:]
        for row in rows { loaded[try row.decode("name")] = try row.decode("max_attempts", as: Int.self) }
        defaults.withLock { $0 = loaded }
        guard let queueDefault = loaded[job.queue.rawValue] else {
            throw QueueError(code: .unknownQueue, message: "queue '\(job.queue)' is not defined (known: \(loaded.keys.sorted().joined(separator: ", ")))")
        }
        return job.maxAttempts ?? queueDefault
    }

    // MARK: Dead letters

    /// Dead letters, oldest first, optionally of one queue and/or one tenant; page with `afterID`.
    public func deadLetters(queue: QueueName? = nil, tenantID: UUID? = nil, afterID: Int64 = 0, limit: Int = 100) async throws -> [DeadLetter] {
        let rows = try await pool.query(QueueSQL.deadLetters(queue: queue?.rawValue, tenantID: tenantID, afterID: afterID, limit: min(max(limit, 1), 1000)))
        return try rows.map { row in
            DeadLetter(
                id: try row.decode("id"), jobID: try row.decode("job_id"),
                queue: try QueueName(try row.decode("queue", as: String.self)),
                tenantID: try row.decode("tenant_id", as: UUID?.self),
                payload: try row.rawBytes("payload") ?? Data(),
                attempts: try row.decode("attempts"), maxAttempts: try row.decode("max_attempts"),
                lastError: try row.decode("last_error"), createdAt: try row.decode("created_at"), diedAt: try row.decode("died_at")
            )
        }
    }

    /// Puts dead letters back on their queues as fresh jobs (attempts start again). Limited to
    /// `tenantID` when given. Returns the new jobs' ids.
    @discardableResult
    public func replay(deadLetterIDs ids: [Int64], tenantID: UUID? = nil) async throws -> [Int64] {
        try await pool.withTransaction { transaction in
            let rows = try await transaction.query(QueueSQL.replay(ids: ids, tenantID: tenantID))
            let queues = try Set(rows.map { try QueueName(try $0.decode("queue", as: String.self)) })
            self.wakeAfterCommit(Array(queues), transaction)
            return try rows.map { try $0.decode("id", as: Int64.self) }
        }
    }

    /// Deletes dead letters for good. Returns how many went.
    @discardableResult
    public func purge(deadLetterIDs ids: [Int64], tenantID: UUID? = nil) async throws -> Int {
        try await pool.query(QueueSQL.purge(ids: ids, tenantID: tenantID)).affectedRows
    }

    // MARK: Statistics

    /// Depth, running, scheduled, oldest ready age and dead letters per queue.
    public func statistics() async throws -> [QueueStatistics] {
        try await pool.query(QueueSQL.statistics()).map { row in
            QueueStatistics(
                queue: try row.decode("queue"), ready: try row.decode("ready"), running: try row.decode("running"),
                scheduled: try row.decode("scheduled"), oldestReadySeconds: try row.decode("oldest_ready_seconds"),
                deadLetters: try row.decode("dead")
            )
        }
    }
}

/// A job that used up its attempts or failed permanently, with its last error.
public struct DeadLetter: Sendable, Codable, Equatable {
    public let id: Int64
    public let jobID: Int64
    public let queue: QueueName
    public let tenantID: UUID?
    public let payload: Data
    public let attempts: Int
    public let maxAttempts: Int
    public let lastError: String
    public let createdAt: Date
    public let diedAt: Date
}

extension QueueName: Codable {
    public init(from decoder: Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// Figures of one queue at one moment (for `/metrics`).
public struct QueueStatistics: Sendable, Equatable {
    public let queue: String
    public let ready: Int
    public let running: Int
    public let scheduled: Int
    public let oldestReadySeconds: Double
    public let deadLetters: Int
}
