import FoundationEssentials
import Postgres

/// The one payload type of a queue: producers enqueue it, consumers decode it, and it knows the
/// queue it belongs on and its own dedupe key. Types conforming to it live in `QueueContracts`.
public protocol QueueContract: Codable, Sendable {
    static var queue: QueueName { get }
    /// A second job with the same key on the same queue is a no-op while the first is live
    /// (nil: never deduplicated).
    var dedupeKey: String? { get }
}

extension NewJob {
    /// A job carrying `payload` on its contract's queue, deduplicated by its key unless
    /// `deduplicated` is false (a job that re-enqueues itself while it still runs).
    public init<Contract: QueueContract>(
        _ payload: Contract, tenantID: UUID?, delay: Duration = .zero, maxAttempts: Int? = nil, deduplicated: Bool = true
    ) throws(QueueError) {
        try self.init(queue: Contract.queue, payload: payload, tenantID: tenantID, delay: delay, maxAttempts: maxAttempts,
                      dedupeKey: deduplicated ? payload.dedupeKey : nil)
    }
}

extension Job {
    /// The payload as its contract type; a payload that is not one (or a job on another queue)
    /// is a permanent failure: it goes to the dead letters with the reason.
    public func payload<Contract: QueueContract>(as type: Contract.Type) throws(JobFailure) -> Contract {
        guard queue == Contract.queue else {
            throw JobFailure.permanent(reason: "a \(queue) job handled as a \(Contract.queue) job")
        }
        do { return try decodePayload(as: Contract.self) } catch {
            throw JobFailure.permanent(reason: "\(queue) payload is not a \(Contract.self) (Shared/QueueContracts): \(error)")
        }
    }
}

extension JobQueue {
    /// The insert of jobs onto `queue` from `rows`, for a producer's single statement (a CTE):
    /// `rows` must yield the columns `tenant_id uuid, payload jsonb, dedupe_key text`. The jobs take
    /// the queue's default attempts and are ready at once; duplicates by key are skipped.
    /// Returns the new jobs' `id`s. Wake the consumers with ``wakeAfterCommit(_:_:)``.
    public static func insertJobs(on queue: QueueName, from rows: SQLQuery) -> SQLQuery {
        QueueSQL.insertSelect(queue: queue.rawValue, rows: rows)
    }
}

extension JobQueue {
    /// Deletes the live jobs whose payload names one of the applications in the statement's CTE
    /// `apps` (columns `tenant_id`, `id`), for retention's single statement. Returns the deleted
    /// jobs' `application_id`.
    public static var deleteJobsOfApps: SQLQuery { QueueSQL.deleteJobsOfApps }

    /// The same for dead letters.
    public static var deleteDeadLettersOfApps: SQLQuery { QueueSQL.deleteDeadLettersOfApps }
}
