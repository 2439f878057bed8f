import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import Lease
import Logging
import Metrics
import Postgres
import Synchronization

/// How a consumer claims and runs jobs.
public struct ConsumerConfiguration: Sendable {
    public var queue: QueueName
    /// Jobs claimed per round trip (at most `QueueLimits.maxBatchSize`).
    public var batchSize: Int
    /// Outside-effect handlers: jobs running at once. Transactional handlers: batches in flight
    /// at once, each on its own connection.
    public var concurrency: Int
    /// How long a claim holds a job before another consumer may take it. Running jobs have their
    /// lease extended every third of this.
    public var leaseDuration: Duration
    /// Fallback poll when no notification arrives (a lost NOTIFY only delays, never loses).
    public var pollInterval: Duration
    public var backoff: BackoffPolicy
    /// On stop: how long running jobs may take before they are handed back.
    public var shutdownDeadline: Duration
    /// Recorded in `leased_by` for operators.
    public var consumerName: String

    public init(
        queue: QueueName, batchSize: Int = 100, concurrency: Int = 16, leaseDuration: Duration = .seconds(60),
        pollInterval: Duration = .seconds(5), backoff: BackoffPolicy = .init(), shutdownDeadline: Duration = .seconds(10),
        consumerName: String = "\(ProcessInfo.processInfo.hostName)-\(getpid())"
    ) {
        self.queue = queue
        self.batchSize = min(max(batchSize, 1), QueueLimits.maxBatchSize)
        self.concurrency = max(concurrency, 1)
        self.leaseDuration = leaseDuration
        self.pollInterval = pollInterval
        self.backoff = backoff
        self.shutdownDeadline = shutdownDeadline
        self.consumerName = consumerName
    }

    /// How much earlier than the lease a job's local deadline (``Job/deadline``) falls: room for
    /// an effect that passed its point of no return just before the deadline to land before anyone
    /// else may claim the job. A tenth of the lease, at most 5 s.
    public var leaseMargin: Duration { min(leaseDuration / 10, .seconds(5)) }

    /// The local deadline of a claim or renewal sent at `sent`.
    func deadline(sentAt sent: ContinuousClock.Instant) -> ContinuousClock.Instant {
        sent + leaseDuration - leaseMargin
    }
}

/// Claims jobs of one queue in batches (`FOR UPDATE SKIP LOCKED`, leases judged by the database
/// clock), runs them, and acks in batches. Woken by LISTEN/NOTIFY, with a slow fallback poll.
/// Any number of consumers of the same queue may run, in one process or many.
public final class QueueConsumer: Sendable {
    public enum Handler: Sendable {
        /// Outside effects; at least once; concurrent up to `concurrency`.
        case effects(any JobHandler)
        /// Database-only effects; in the ack's transaction; exactly once.
        case transactional(any TransactionalJobHandler)
    }

    private struct Claimed: Hashable {
        let id: Int64
        let leaseID: UUID
    }

    private enum Outcome {
        case done
        case retry(delay: Duration, reason: String)
        case dead(reason: String)
        /// The handler stopped at its point of no return: the lease was lost, nothing was done.
        case leaseLost
    }

    private struct Completion {
        let job: Job
        let outcome: Outcome
    }

    private struct State {
        var stopping = false
        var running: [Claimed: LeaseDeadline] = [:]   // claimed and not yet settled in the database
        var handlerTasks: [Int64: Task<Void, Never>] = [:]
        var completions: [Completion] = []
    }

    public let configuration: ConsumerConfiguration
    private let pool: PostgresPool
    /// Claims, effect acks, retries, lease extensions and hand-backs (see `init`).
    private let bookkeeping: PostgresPool
    private let listener: PostgresListener?
    private let handler: Handler
    private let logger: Logger
    private let state = Mutex(State())
    private let wake = WakeSignal()
    private let capacity = WakeSignal()
    private let flushNeeded = WakeSignal()
    private let counters: ConsumerMetrics

    /// - Parameter bookkeepingPool: where the queue's own bookkeeping runs — claims, acks of
    ///   `.effects` handlers, retries, lease extensions, hand-backs. Give it a pool whose sessions
    ///   commit with `synchronous_commit = off` (`PostgresConfiguration.synchronousCommit`) to spare
    ///   those commits their WAL flush: a crash of the database can lose only the last few hundred
    ///   milliseconds of them, and losing any of them only makes a job run again (at least once, as
    ///   always). Transactional handlers' work and their ack, and moves to dead letters, stay on
    ///   `pool`, whose durable commit also makes every earlier bookkeeping commit durable (the WAL
    ///   is flushed in order). nil = `pool` for everything.
    public init(
        pool: PostgresPool, bookkeepingPool: PostgresPool? = nil, listener: PostgresListener?, configuration: ConsumerConfiguration,
        handler: Handler, logger: Logger, metrics: MetricsRegistry? = nil
    ) {
        self.pool = pool
        self.bookkeeping = bookkeepingPool ?? pool
        self.listener = listener
        self.configuration = configuration
        self.handler = handler
        self.logger = logger.with(["queue": configuration.queue.rawValue])
        self.counters = ConsumerMetrics(registry: metrics ?? MetricsRegistry(), queue: configuration.queue)
    }

    /// Asks the consumer to stop: no more claims; running jobs get `shutdownDeadline` to finish,
    /// then are handed back. `run()` returns when that is done.
    public func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
        capacity.signal()
        flushNeeded.signal()
    }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    /// Runs until `stop()` (or cancellation of the calling task).
    public func run() async {
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.listenForWakeups() }
                group.addTask { await self.extendLeasesPeriodically() }
                switch handler {
                case .effects(let handler):
                    group.addTask { await self.flushCompletions() }
                    await fetchAndRun(handler)
                    await finishRunningJobs()
                case .transactional(let handler):
                    await withTaskGroup(of: Void.self) { lanes in
                        for _ in 0..<configuration.concurrency {
                            lanes.addTask { await self.runTransactionalLane(handler) }
                        }
                    }
                }
                await handBackUnsettled()
                group.cancelAll()
            }
        } onCancel: {
            stop()
        }
    }

    // MARK: Claiming

    /// Claims up to `limit` jobs. With `excludingUnsettled`, never one this process still holds
    /// unsettled (its lease may have run out while its handler runs or its ack waits, as after a
    /// freeze): a job id is never started twice in one process. Only the claiming loop adds to
    /// `running`, so the ids read before the statement cover every one held when it returns.
    private func claim(limit: Int, excludingUnsettled: Bool) async throws -> [Job] {
        let leaseID = UUID()
        let excluded = excludingUnsettled ? state.withLock { $0.running.keys.map(\.id) } : []
        let sent = ContinuousClock.now
        let rows = try await bookkeeping.query(QueueSQL.claim(
            queue: configuration.queue, limit: limit, leaseID: leaseID, consumer: configuration.consumerName,
            leaseMilliseconds: configuration.leaseDuration.milliseconds, excluding: excluded
        ))
        let until = configuration.deadline(sentAt: sent)
        let jobs = try rows.map { row in
            Job(
                id: try row.decode("id"), queue: configuration.queue, tenantID: try row.decode("tenant_id", as: UUID?.self),
                payload: try row.rawBytes("payload") ?? Data(), priority: try row.decode("priority"),
                attempt: try row.decode("attempts"), maxAttempts: try row.decode("max_attempts"),
                createdAt: try row.decode("created_at"), leaseID: leaseID, deadline: LeaseDeadline(until: until)
            )
        }
        if !jobs.isEmpty {
            state.withLock { state in for job in jobs { state.running[Claimed(id: job.id, leaseID: leaseID)] = job.deadline } }
        }
        return jobs
    }

    /// Waits for a notification, a poll tick or a stop.
    private func idle() async {
        await wake.wait(timeout: configuration.pollInterval)
    }

    private func pauseAfterError(_ error: Error, attempt: inout Int) async {
        attempt += 1
        let delay = Duration.milliseconds(min(50 * (1 << min(attempt, 6)), 2000))
        if attempt == 1 || attempt % 20 == 0 {
            logger.warning("queue consumer cannot reach the database; retrying", ["error": "\(error)"])
        }
        try? await Task.sleep(for: delay)
    }

    // MARK: Outside-effect handlers

    private func fetchAndRun(_ handler: any JobHandler) async {
        var failures = 0
        while !isStopping {
            let free = configuration.concurrency - state.withLock { $0.handlerTasks.count }
            if free <= 0 {
                await capacity.wait(timeout: configuration.pollInterval)
                continue
            }
            let jobs: [Job]
            do {
                jobs = try await claim(limit: min(free, configuration.batchSize), excludingUnsettled: true)
                failures = 0
            } catch {
                await pauseAfterError(error, attempt: &failures)
                continue
            }
            if jobs.isEmpty {
                await idle()
                continue
            }
            for job in jobs { start(job, handler) }
            // Fewer than asked for: nothing else is ready. Claiming again at once would only come
            // back empty; a notification sent meanwhile is not lost (the wake-up stays pending).
            if jobs.count < min(free, configuration.batchSize) { await idle() }
        }
    }

    private func start(_ job: Job, _ handler: any JobHandler) {
        state.withLock { state in
            state.handlerTasks[job.id] = Task {
                let started = ContinuousClock.now
                let outcome: Outcome
                do {
                    try await handler.handle(job)
                    outcome = .done
                } catch is LeaseLostError {
                    outcome = .leaseLost
                } catch is CancellationError {
                    // Stopped past the deadline: leave it to the hand-back.
                    self.state.withLock { _ = $0.handlerTasks.removeValue(forKey: job.id) }
                    self.capacity.signal()
                    return
                } catch {
                    outcome = self.outcome(for: error, job: job)
                }
                self.counters.handlerSeconds.observe((ContinuousClock.now - started).secondsDouble, self.counters.labels)
                self.state.withLock { state in
                    state.handlerTasks.removeValue(forKey: job.id)
                    state.completions.append(Completion(job: job, outcome: outcome))
                }
                self.capacity.signal()
                self.flushNeeded.signal()
            }
        }
    }

    private func outcome(for error: Error, job: Job) -> Outcome {
        switch error {
        case JobFailure.permanent(let reason):
            return .dead(reason: reason)
        case JobFailure.retry(let delay, let reason):
            return job.attempt >= job.maxAttempts ? .dead(reason: reason) : .retry(delay: delay, reason: reason)
        default:
            let reason = String(describing: error)
            return job.attempt >= job.maxAttempts
                ? .dead(reason: reason)
                : .retry(delay: configuration.backoff.delay(afterAttempt: job.attempt), reason: reason)
        }
    }

    /// Writes finished jobs' outcomes: all done ones in one statement, failures one by one.
    private func flushCompletions() async {
        var failures = 0
        while true {
            let (batch, stopping) = state.withLock { state -> ([Completion], Bool) in
                defer { state.completions.removeAll() }
                return (state.completions, state.stopping && state.handlerTasks.isEmpty)
            }
            if batch.isEmpty {
                if stopping || Task.isCancelled { return }
                await flushNeeded.wait(timeout: .seconds(1))
                continue
            }
            do {
                try await settle(batch)
                failures = 0
            } catch {
                state.withLock { $0.completions.insert(contentsOf: batch, at: 0) }
                await pauseAfterError(error, attempt: &failures)
                if Task.isCancelled { return }
            }
        }
    }

    private func settle(_ batch: [Completion]) async throws {
        let lost = batch.filter { if case .leaseLost = $0.outcome { true } else { false } }
        if !lost.isEmpty {
            // Nothing was done. Hand the jobs back: a no-op where another consumer holds them
            // now (conditioned on our lease), ready at once where no one took them.
            try await bookkeeping.query(QueueSQL.release(ids: lost.map(\.job.id), leases: lost.map(\.job.leaseID)))
            counters.leaseLost.increment(by: Double(lost.count), counters.labels)
            logger.warning("lease lost before the point of no return; the jobs were left to their new owner", ["count": String(lost.count)])
        }
        let done = batch.filter { if case .done = $0.outcome { true } else { false } }
        if !done.isEmpty {
            let rows = try await bookkeeping.query(QueueSQL.complete(ids: done.map(\.job.id), leases: done.map(\.job.leaseID)))
            counters.done.increment(by: Double(rows.count), counters.labels)
            let lost = done.count - rows.count
            if lost > 0 {
                counters.leaseLost.increment(by: Double(lost), counters.labels)
                logger.warning("lease lost before ack; another consumer runs these jobs again", ["count": String(lost)])
            }
        }
        for completion in batch {
            switch completion.outcome {
            case .done, .leaseLost: break
            case .retry(let delay, let reason):
                try await bookkeeping.query(QueueSQL.retry(id: completion.job.id, leaseID: completion.job.leaseID, delayMilliseconds: delay.milliseconds, error: reason))
                counters.retried.increment(by: 1, counters.labels)
            case .dead(let reason):
                try await pool.query(QueueSQL.kill(id: completion.job.id, leaseID: completion.job.leaseID, error: reason))
                counters.dead.increment(by: 1, counters.labels)
                logger.warning("job moved to dead letters", ["job_id": String(completion.job.id), "attempts": String(completion.job.attempt)])
            }
        }
        state.withLock { state in
            for completion in batch { state.running[Claimed(id: completion.job.id, leaseID: completion.job.leaseID)] = nil }
        }
    }

    /// After the fetch loop ends: give running handlers until the deadline, then cancel them.
    private func finishRunningJobs() async {
        let deadline = ContinuousClock.now + configuration.shutdownDeadline
        while state.withLock({ !$0.handlerTasks.isEmpty }) && ContinuousClock.now < deadline {
            await capacity.wait(timeout: .milliseconds(50))
        }
        let stragglers = state.withLock { Array($0.handlerTasks.values) }
        for task in stragglers { task.cancel() }
        for task in stragglers { await task.value }
        flushNeeded.signal()
        // Let the flusher write what finished.
        while state.withLock({ !$0.completions.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(10))
            if ContinuousClock.now > deadline + .seconds(5) { break }
        }
    }

    // MARK: Database-only handlers

    private func runTransactionalLane(_ handler: any TransactionalJobHandler) async {
        var failures = 0
        while !isStopping {
            let jobs: [Job]
            do {
                // No exclusion: a batch's ack and work share one transaction conditioned on
                // the lease, so a job claimed again elsewhere is skipped by the old batch.
                jobs = try await claim(limit: configuration.batchSize, excludingUnsettled: false)
                failures = 0
            } catch {
                await pauseAfterError(error, attempt: &failures)
                continue
            }
            if jobs.isEmpty {
                await idle()
                continue
            }
            // A full batch: there may be more, so another lane claims while this one works.
            if jobs.count == configuration.batchSize { wake.signalOne() }
            await runBatchInOneTransaction(jobs, handler)
            // A short batch means the queue was drained: wait for the next notification (or poll)
            // instead of a claim that would come back empty.
            if jobs.count < configuration.batchSize { await idle() }
        }
    }

    /// The fast path: ack and every handler's work in one transaction. If a handler fails, the
    /// batch is rolled back and each job runs again in a transaction of its own.
    private func runBatchInOneTransaction(_ jobs: [Job], _ handler: any TransactionalJobHandler) async {
        let started = ContinuousClock.now
        do {
            let owned = try await pool.withTransaction { transaction in
                let rows = try await transaction.query(QueueSQL.complete(ids: jobs.map(\.id), leases: jobs.map(\.leaseID)))
                let owned = Set(try rows.map { try $0.decode("id", as: Int64.self) })
                for job in jobs where owned.contains(job.id) { try await handler.handle(job, in: transaction) }
                return owned
            }
            settleLocally(jobs, owned: owned, started: started)
        } catch let error as PostgresError where error.isConnectionProblem {
            logger.warning("batch interrupted by a database problem; handing the jobs back", ["error": "\(error)"])
            await handBack(jobs)
        } catch {
            for job in jobs { await runAlone(job, handler) }
        }
    }

    private func runAlone(_ job: Job, _ handler: any TransactionalJobHandler) async {
        let started = ContinuousClock.now
        do {
            let owned = try await pool.withTransaction { transaction in
                let rows = try await transaction.query(QueueSQL.complete(ids: [job.id], leases: [job.leaseID]))
                guard rows.count == 1 else { return false }
                try await handler.handle(job, in: transaction)
                return true
            }
            settleLocally([job], owned: owned ? [job.id] : [], started: started)
        } catch let error as PostgresError where error.isConnectionProblem {
            await handBack([job])
        } catch {
            let completion = Completion(job: job, outcome: outcome(for: error, job: job))
            do { try await settle([completion]) } catch {
                logger.warning("cannot record a job failure; the lease will expire and the job run again", ["job_id": String(job.id)])
            }
        }
    }

    private func settleLocally(_ jobs: [Job], owned: Set<Int64>, started: ContinuousClock.Instant) {
        let lost = jobs.count - owned.count
        counters.done.increment(by: Double(owned.count), counters.labels)
        if lost > 0 { counters.leaseLost.increment(by: Double(lost), counters.labels) }
        if !owned.isEmpty {
            counters.handlerSeconds.observe((ContinuousClock.now - started).secondsDouble / Double(owned.count), counters.labels)
        }
        state.withLock { state in for job in jobs { state.running[Claimed(id: job.id, leaseID: job.leaseID)] = nil } }
    }

    // MARK: Leases and hand-back

    /// Gives jobs back unrun (attempt not counted), retrying while the database is away.
    private func handBack(_ jobs: [Job]) async {
        guard !jobs.isEmpty else { return }
        do {
            try await bookkeeping.query(QueueSQL.release(ids: jobs.map(\.id), leases: jobs.map(\.leaseID)))
        } catch {
            logger.warning("cannot hand jobs back; they return when their lease ends", ["count": String(jobs.count)])
        }
        state.withLock { state in for job in jobs { state.running[Claimed(id: job.id, leaseID: job.leaseID)] = nil } }
    }

    private func handBackUnsettled() async {
        let claimed = state.withLock { Array($0.running.keys) }
        guard !claimed.isEmpty else { return }
        do {
            try await bookkeeping.query(QueueSQL.release(ids: claimed.map(\.id), leases: claimed.map(\.leaseID)))
            logger.info("handed back unfinished jobs", ["count": String(claimed.count)])
        } catch {
            logger.warning("cannot hand jobs back; they return when their lease ends", ["count": String(claimed.count)])
        }
        state.withLock { $0.running.removeAll() }
    }

    /// Every third of the lease: extends the leases of the jobs held here and moves their
    /// deadlines on; a job whose lease was not renewed has its deadline marked lost, so its
    /// handler stops at its point of no return. (When the statement fails, deadlines simply
    /// stay where they are and run out.)
    private func extendLeasesPeriodically() async {
        let interval = configuration.leaseDuration / 3
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            let claimed = state.withLock { Array($0.running) }
            guard !claimed.isEmpty else { continue }
            let sent = ContinuousClock.now
            guard let rows = try? await bookkeeping.query(QueueSQL.extendLeases(
                ids: claimed.map(\.key.id), leases: claimed.map(\.key.leaseID), leaseMilliseconds: configuration.leaseDuration.milliseconds
            )), let renewed = try? Set(rows.map { Claimed(id: try $0.decode("id"), leaseID: try $0.decode("lease_id")) })
            else { continue }
            let until = configuration.deadline(sentAt: sent)
            for (claim, deadline) in claimed {
                if renewed.contains(claim) { deadline.renew(until: until) } else { deadline.markLost() }
            }
            // Settled meanwhile (acked, handed back) is not lost: count only the ones still held.
            let lost = state.withLock { state in claimed.filter { state.running[$0.key] != nil && !renewed.contains($0.key) }.count }
            if lost > 0 {
                logger.warning("leases not renewed (run out or taken over); their handlers stop at their point of no return", ["count": String(lost)])
            }
        }
    }

    private func listenForWakeups() async {
        guard let listener else { return }
        while !Task.isCancelled {
            do {
                let events = try await listener.subscribe(to: [configuration.queue.channel])
                for await event in events {
                    switch event {
                    case .notification:
                        // One loop claims; one that gets a full batch wakes the next (see the lanes).
                        wake.signalOne()
                    case .reconnected:
                        // Notifications may have been missed: every loop looks again.
                        wake.signal()
                    }
                }
                return
            } catch {
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}

/// The consumer's figures in the process's metrics registry.
struct ConsumerMetrics: Sendable {
    let labels: MetricLabels
    let done: Counter
    let retried: Counter
    let dead: Counter
    let leaseLost: Counter
    let handlerSeconds: Histogram

    init(registry: MetricsRegistry, queue: QueueName) {
        labels = ["queue": queue.rawValue]
        done = registry.counter("amtsweg_queue_jobs_done_total", help: "Jobs completed")
        retried = registry.counter("amtsweg_queue_jobs_retried_total", help: "Job attempts that failed and were scheduled again")
        dead = registry.counter("amtsweg_queue_jobs_dead_total", help: "Jobs moved to the dead letters")
        leaseLost = registry.counter("amtsweg_queue_leases_lost_total", help: "Jobs whose lease was lost before their ack or their point of no return (they run again elsewhere)")
        handlerSeconds = registry.histogram("amtsweg_queue_handler_seconds", help: "Time a handler took per job")
    }
}

extension PostgresPool {
    /// A small pool for a ``QueueConsumer``'s bookkeeping (`bookkeepingPool`): the same database,
    /// sessions with `synchronous_commit = off`.
    public static func queueBookkeeping(_ configuration: PostgresConfiguration, connections: Int = 4, logger: Logger) -> PostgresPool {
        var asynchronous = configuration
        asynchronous.synchronousCommit = false
        return PostgresPool(configuration: asynchronous, pool: PostgresPoolConfiguration(maxConnections: connections), logger: logger)
    }
}
