import Postgres

/// A handler whose effect is outside the database (SMTP, HTTPS). Runs at least once per job:
/// pass `job.idempotencyKey` to the outside system so it can drop duplicates.
///
/// Pass `job.deadline` to the outside system's client, which checks it at its point of no
/// return; throw ``LeaseLostError`` when it has passed: the consumer then writes nothing for the
/// job but a hand-back conditioned on its lease (a no-op once another consumer holds it).
///
/// Return normally when done. Throw `JobFailure.permanent` to send the job to the dead letters
/// now, `JobFailure.retry` to choose the delay, any other error to retry with the consumer's backoff.
public protocol JobHandler: Sendable {
    func handle(_ job: Job) async throws
}

/// A handler whose effect is only in the database. It runs inside the transaction that also
/// deletes the job, so its effect and the ack commit together: exactly once.
/// Throwing rolls its work back; errors mean the same as for `JobHandler`.
public protocol TransactionalJobHandler: Sendable {
    func handle(_ job: Job, in transaction: Transaction) async throws
}

/// Errors a handler throws to steer what happens to the job.
public enum JobFailure: Error, Sendable {
    /// Will never succeed (e.g. a 5xx for a recipient, a rule broken): dead letter now.
    case permanent(reason: String)
    /// Try again after `delay` (e.g. a server's `Retry-After`).
    case retry(after: Duration, reason: String)
}

/// Wraps a closure as a `JobHandler`.
public struct ClosureJobHandler: JobHandler {
    private let body: @Sendable (Job) async throws -> Void
    public init(_ body: @escaping @Sendable (Job) async throws -> Void) { self.body = body }
    public func handle(_ job: Job) async throws { try await body(job) }
}

/// Wraps a closure as a `TransactionalJobHandler`.
public struct ClosureTransactionalJobHandler: TransactionalJobHandler {
    private let body: @Sendable (Job, Transaction) async throws -> Void
    public init(_ body: @escaping @Sendable (Job, Transaction) async throws -> Void) { self.body = body }
    public func handle(_ job: Job, in transaction: Transaction) async throws { try await body(job, transaction) }
}
