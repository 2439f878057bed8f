import Domain
import FoundationEssentials
import JobQueue
import Postgres

/// A dead letter as the admin API and the CLI show it.
public struct DeadLetterView: Encodable, Sendable, Equatable {
    public var letter: DeadLetter

    enum CodingKeys: String, CodingKey {
        case id, queue, attempts, payload
        case jobID = "job_id"
        case tenantID = "tenant_id"
        case maxAttempts = "max_attempts"
        case lastError = "last_error"
        case createdAt = "created_at"
        case diedAt = "died_at"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(letter.id, forKey: .id)
        try c.encode(letter.jobID, forKey: .jobID)
        try c.encode(letter.queue.rawValue, forKey: .queue)
        try c.encodeID(letter.tenantID, forKey: .tenantID)
        try c.encode(letter.attempts, forKey: .attempts)
        try c.encode(letter.maxAttempts, forKey: .maxAttempts)
        try c.encode(letter.lastError, forKey: .lastError)
        try c.encode(letter.createdAt, forKey: .createdAt)
        try c.encode(letter.diedAt, forKey: .diedAt)
        try c.encode(String(decoding: letter.payload, as: UTF8.self), forKey: .payload)
    }
}

extension AdminStore {
    /// Dead letters (of `tenant`; nil: of every tenant, for operators), oldest first after
    /// `afterID`. Reading them is audited: one entry per call naming the ids read and their count,
    /// never payloads or errors. The entry is written before anything is returned.
    public func deadLetters(tenant: UUID?, queue name: QueueName? = nil, afterID: Int64 = 0, limit: Int = 100) async throws -> [DeadLetterView] {
        var errors: [AdminError.FieldError] = []
        if !(1...1000).contains(limit) { errors.append(.init(field: "limit", code: "out-of-range", message: "must be an integer from 1 to 1000")) }
        if afterID < 0 { errors.append(.init(field: "after_id", code: "out-of-range", message: "must not be negative")) }
        try require(errors)
        let letters = try await queue.deadLetters(queue: name, tenantID: tenant, afterID: afterID, limit: limit)
        var details = ["count": String(letters.count), "ids": letters.map { String($0.id) }.joined(separator: ",")]
        if let name { details["queue"] = name.rawValue }
        try await Audit.record(audit(tenant, "dead_letter.read", "dead_letter", nil, details), pool: pool)
        return letters.map(DeadLetterView.init)
    }

    /// Puts dead letters (of `tenant`; nil: of every tenant) back on their queues; the new job ids.
    public func replayDeadLetters(tenant: UUID?, ids: [Int64]) async throws -> [Int64] {
        try require(Self.idProblems(ids))
        let jobs = try await queue.replay(deadLetterIDs: ids, tenantID: tenant)
        try await Audit.record(audit(tenant, "dead_letter.replay", "dead_letter", nil,
                                     ["requested": String(ids.count), "replayed": String(jobs.count)]), pool: pool)
        return jobs
    }

    /// Deletes dead letters (of `tenant`; nil: of every tenant) for good; how many.
    public func purgeDeadLetters(tenant: UUID?, ids: [Int64]) async throws -> Int {
        try require(Self.idProblems(ids))
        let count = try await queue.purge(deadLetterIDs: ids, tenantID: tenant)
        try await Audit.record(audit(tenant, "dead_letter.purge", "dead_letter", nil,
                                     ["requested": String(ids.count), "purged": String(count)]), pool: pool)
        return count
    }

    private static func idProblems(_ ids: [Int64]) -> [AdminError.FieldError] {
        (ids.isEmpty || ids.count > 1000) ? [.init(field: "ids", code: "invalid", message: "must list 1 to 1000 dead letter ids")] : []
    }
}
