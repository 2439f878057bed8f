import Foundation
import HTTPTestSupport
import JobQueue
import Lease
import Logging
import Metrics
import Postgres
import Synchronization
import Testing
import TestSupport

@Suite(.serialized) struct ConsumerTests {
    @Test func fourConsumersHandleTwentyThousandJobsExactlyOnce() async throws {
        let db = try await TestDatabase.make(maxConnections: 12)
        try await db.createHandledTable()
        let queue = db.makeQueue()
        try await db.fill(queue, count: 20_000)
        let listener = db.makeListener()
        let handler = ClosureTransactionalJobHandler { job, tx in
            try await tx.query("INSERT INTO handled (job_id) VALUES (\(job.id))")
        }
        let consumers = (0..<4).map { index in
            RunningConsumer(QueueConsumer(
                pool: db.pool, listener: listener,
                configuration: ConsumerConfiguration(queue: .route, batchSize: 100, concurrency: 2, consumerName: "c\(index)"),
                handler: .transactional(handler), logger: db.logger
            ))
        }
        let drained = try await eventually(timeout: .seconds(120)) { try await db.jobCount() == 0 }
        for consumer in consumers { await consumer.stop() }
        listener.stop()
        #expect(drained)
        let rows = try await db.pool.query("SELECT count(*)::int AS total, count(DISTINCT job_id)::int AS distinct_jobs FROM handled")
        #expect(try rows[0].decode("total", as: Int.self) == 20_000)
        #expect(try rows[0].decode("distinct_jobs", as: Int.self) == 20_000)
    }

    @Test func idleConsumerInListenPicksUpANewJobWellUnder100Milliseconds() async throws {
        let db = try await TestDatabase.make()
        let queue = db.makeQueue()
        let listener = db.makeListener()
        let started = StartTimes()
        let consumer = RunningConsumer(QueueConsumer(
            pool: db.pool, listener: listener,
            configuration: ConsumerConfiguration(queue: .route, pollInterval: .seconds(60)),
            handler: .effects(ClosureJobHandler { job in started.record(job.id) }), logger: db.logger
        ))
        try await Task.sleep(for: .milliseconds(300))  // let it go idle in LISTEN
        var latencies: [Duration] = []
        for n in 0..<20 {
            let before = ContinuousClock.now
            let id = try #require(try await queue.enqueue(try NewJob(queue: .route, payload: Ping(n: n))))
            let seen = await eventually(timeout: .seconds(2), every: .milliseconds(1)) { started.contains(id) }
            #expect(seen)
            latencies.append(ContinuousClock.now - before)
            try await Task.sleep(for: .milliseconds(50))
        }
        await consumer.stop()
        listener.stop()
        let sorted = latencies.sorted()
        #expect(sorted[sorted.count / 2] < .milliseconds(20), "p50 \(sorted[sorted.count / 2])")
        #expect(sorted.last! < .milliseconds(100), "max \(sorted.last!)")
    }

    @Test func failedJobsRetryWithinBackoffBoundsThenDieAndReplayRunsThemAgain() async throws {
        let db = try await TestDatabase.make()
        let queue = db.makeQueue()
        let listener = db.makeListener()
        let attempts = SharedCounter()
        let succeed = SharedCounter()
        let backoff = BackoffPolicy(base: .milliseconds(400), maximum: .seconds(2))
        let handler = ClosureJobHandler { _ in
            attempts.add()
            if succeed.current == 0 { throw TestServerError("smtp 451 try later") }
        }
        let consumer = RunningConsumer(QueueConsumer(
            pool: db.pool, listener: listener,
            configuration: ConsumerConfiguration(queue: .notifyEmail, pollInterval: .milliseconds(50), backoff: backoff),
            handler: .effects(handler), logger: db.logger
        ))
        let id = try #require(try await queue.enqueue(try NewJob(queue: .notifyEmail, payload: Ping(n: 1), maxAttempts: 3)))
        // After the first failure the job waits between 200 and 400 ms (equal jitter on 400 ms).
        #expect(await eventually(timeout: .seconds(2), every: .milliseconds(2)) { attempts.current >= 1 })
        let scheduled = try await eventually(timeout: .seconds(2), every: .milliseconds(2)) {
            try await db.scalar("SELECT count(*)::int FROM queue_jobs WHERE id = \(id) AND lease_id IS NULL AND last_error IS NOT NULL", as: Int.self) == 1
        }
        #expect(scheduled)
        let delayMs = try await db.scalar("SELECT (extract(epoch FROM run_at - now()) * 1000)::float8 FROM queue_jobs WHERE id = \(id)", as: Double.self)
        #expect(delayMs <= 400 && delayMs >= 150, "delay \(delayMs) ms")
        // Three attempts, then a dead letter with the last error.
        let dead = try await eventually(timeout: .seconds(10)) { try await !queue.deadLetters(queue: .notifyEmail).isEmpty }
        #expect(dead)
        #expect(attempts.current == 3)
        let letter = try #require(try await queue.deadLetters(queue: .notifyEmail).first)
        #expect(letter.jobID == id)
        #expect(letter.attempts == 3)
        #expect(letter.lastError.contains("smtp 451"))
        #expect(try await db.jobCount(.notifyEmail) == 0)
        // Replay: it runs again (and now succeeds).
        succeed.add()
        let replayed = try await queue.replay(deadLetterIDs: [letter.id])
        #expect(replayed.count == 1)
        #expect(await eventually(timeout: .seconds(5)) { attempts.current == 4 })
        #expect(try await eventually { try await db.jobCount(.notifyEmail) == 0 })
        #expect(try await queue.deadLetters(queue: .notifyEmail).isEmpty)
        await consumer.stop()
        listener.stop()
    }

    @Test func permanentFailureGoesStraightToDeadLettersAndPurgeRemovesIt() async throws {
        let db = try await TestDatabase.make()
        let queue = db.makeQueue()
        let listener = db.makeListener()
        defer { listener.stop() }
        let consumer = RunningConsumer(QueueConsumer(
            pool: db.pool, listener: listener,
            configuration: ConsumerConfiguration(queue: .citizenOutbox, pollInterval: .milliseconds(50)),
            handler: .effects(ClosureJobHandler { _ in throw JobFailure.permanent(reason: "400 invalid mailbox") }), logger: db.logger
        ))
        try await queue.enqueue(try NewJob(queue: .citizenOutbox, payload: Ping(n: 1), maxAttempts: 10))
        #expect(try await eventually { try await queue.deadLetters().count == 1 })
        let letter = try #require(try await queue.deadLetters().first)
        #expect(letter.attempts == 1)
        #expect(letter.lastError == "400 invalid mailbox")
        #expect(try await queue.purge(deadLetterIDs: [letter.id]) == 1)
        #expect(try await queue.deadLetters().isEmpty)
        await consumer.stop()
    }

    @Test func killedConsumersJobsRunAgainAfterTheLeaseAndOnlyThen() async throws {
        let db = try await TestDatabase.make()
        try await db.createHandledTable()
        let queue = db.makeQueue()
        try await db.fill(queue, count: 20)
        let lease = Duration.seconds(3)
        let worker = try startWorker([db.url, "route", "\(lease.components.seconds * 1000)", "hang"])
        let claimed = try await eventually(timeout: .seconds(10)) {
            try await db.scalar("SELECT count(*)::int FROM queue_jobs WHERE lease_id IS NOT NULL AND run_at > now()", as: Int.self) == 20
        }
        #expect(claimed)
        kill(worker, SIGKILL)
        _ = try await offPool { reap(worker) }
        let killedAt = ContinuousClock.now
        let listener = db.makeListener()
        defer { listener.stop() }
        let consumer = RunningConsumer(QueueConsumer(
            pool: db.pool, listener: listener,
            configuration: ConsumerConfiguration(queue: .route, pollInterval: .milliseconds(100)),
            handler: .transactional(ClosureTransactionalJobHandler { job, tx in
                try await tx.query("INSERT INTO handled (job_id) VALUES (\(job.id))")
            }), logger: db.logger
        ))
        // Not before the lease runs out ...
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try await db.scalar("SELECT count(*)::int FROM handled", as: Int.self) == 0)
        // ... and all of them, once each, after.
        #expect(try await eventually(timeout: .seconds(10)) { try await db.scalar("SELECT count(*)::int FROM handled", as: Int.self) == 20 })
        #expect(ContinuousClock.now - killedAt >= .milliseconds(1500))
        #expect(try await db.scalar("SELECT count(DISTINCT job_id)::int FROM handled", as: Int.self) == 20)
        let attempts = try await db.scalar("SELECT count(*)::int FROM queue_jobs", as: Int.self)
        #expect(attempts == 0)
        await consumer.stop()
    }

    @Test func gracefulStopFinishesRunningJobsAndHandsBackTheRest() async throws {
        let db = try await TestDatabase.make()
        let queue = db.makeQueue()
        try await db.fill(queue, count: 10, on: .notifyEmail)
        let finished = SharedCounter()
        let started = SharedCounter()
        // The first four jobs (n = 0…3) are claimed; the odd ones outlast the 1 s deadline.
        let consumer = RunningConsumer(QueueConsumer(
            pool: db.pool, listener: nil,
            configuration: ConsumerConfiguration(queue: .notifyEmail, batchSize: 10, concurrency: 4, shutdownDeadline: .seconds(1)),
            handler: .effects(ClosureJobHandler { job in
                started.add()
                let n = try job.decodePayload(as: Ping.self).n
                try await Task.sleep(for: n % 2 == 0 ? .milliseconds(300) : .seconds(30))
                finished.add()
            }), logger: db.logger
        ))
        #expect(await eventually { started.current == 4 })
        await consumer.stop()
        // Two finished within the deadline and were acked; nothing else was started.
        #expect(finished.current == 2)
        #expect(started.current == 4)
        #expect(try await db.jobCount(.notifyEmail) == 8)
        // The two stragglers were handed back: no lease, their attempt not counted.
        let stragglers = try await db.pool.query("SELECT payload->>'n' AS n, lease_id IS NULL AS free, attempts FROM queue_jobs WHERE payload->>'n' IN ('1', '3')")
        #expect(stragglers.count == 2)
        for row in stragglers {
            let n = try row.decode("n", as: String.self)
            #expect(try row.decode("free", as: Bool.self), "job \(n) still leased")
            #expect(try row.decode("attempts", as: Int.self) == 0, "job \(n)'s attempt counted")
        }
        let leased = try await db.scalar("SELECT count(*)::int FROM queue_jobs WHERE lease_id IS NOT NULL", as: Int.self)
        #expect(leased == 0)
        let attempts = try await db.scalar("SELECT coalesce(sum(attempts), 0)::int FROM queue_jobs", as: Int.self)
        #expect(attempts == 0)
    }

    @Test func aJobWhoseLeaseRanOutWhileItRunsIsNotStartedAgainInTheSameProcess() async throws {
        let db = try await TestDatabase.make()
        let queue = db.makeQueue()
        try await db.fill(queue, count: 1, on: .notifyEmail)
        let starts = SharedCounter()
        let released = Atomic<Bool>(false)
        let consumer = RunningConsumer(QueueConsumer(
            pool: db.pool, listener: nil,
            configuration: ConsumerConfiguration(queue: .notifyEmail, concurrency: 4, leaseDuration: .seconds(30), pollInterval: .milliseconds(50)),
            handler: .effects(ClosureJobHandler { _ in
                starts.add()
                while !released.load(ordering: .relaxed) { try? await Task.sleep(for: .milliseconds(10)) }
            }), logger: db.logger
        ))
        #expect(await eventually { starts.current == 1 })
        // As after a freeze of the whole process: the lease ran out by the database's clock and
        // nobody else took the job, while its handler still runs here.
        try await db.pool.query("UPDATE queue_jobs SET run_at = now() - interval '1 second'")
        try await Task.sleep(for: .milliseconds(500))  // ten polls with free capacity
        #expect(starts.current == 1, "a second handler started for a job id still running in the process")
        released.store(true, ordering: .relaxed)
        await consumer.stop()
    }

    @Test func consumersAndPoolRecoverFromARestartWithNoJobLostOrRunTwice() async throws {
        let server = try await PostgresTestServer.start()
        defer { server.stop() }
        let db = try await TestDatabase.make(on: server, maxConnections: 8)
        try await db.createHandledTable()
        let queue = db.makeQueue()
        try await db.fill(queue, count: 6_000)
        let listener = db.makeListener()
        let handler = ClosureTransactionalJobHandler { job, tx in
            try await tx.query("INSERT INTO handled (job_id) VALUES (\(job.id))")
            try await tx.query("SELECT pg_sleep(0.0005)")
        }
        let consumers = (0..<2).map { _ in
            RunningConsumer(QueueConsumer(
                pool: db.pool, listener: listener,
                configuration: ConsumerConfiguration(queue: .route, batchSize: 20, concurrency: 2, leaseDuration: .seconds(3), pollInterval: .milliseconds(500)),
                handler: .transactional(handler), logger: db.logger
            ))
        }
        #expect(try await eventually { try await db.scalar("SELECT count(*)::int FROM handled", as: Int.self) > 500 })
        try await server.restart()
        let drained = try await eventually(timeout: .seconds(60)) { try await db.jobCount() == 0 }
        for consumer in consumers { await consumer.stop() }
        listener.stop()
        #expect(drained)
        let rows = try await db.pool.query("SELECT count(*)::int AS total, count(DISTINCT job_id)::int AS distinct_jobs FROM handled")
        #expect(try rows[0].decode("distinct_jobs", as: Int.self) == 6_000)
        #expect(try rows[0].decode("total", as: Int.self) == 6_000)
        #expect(try await queue.deadLetters().isEmpty)
        await db.pool.close()
    }

    @Test func metricsCountOutcomesAndStatisticsShowDepthAndAge() async throws {
        let db = try await TestDatabase.make()
        let queue = db.makeQueue()
        let registry = MetricsRegistry()
        try await db.fill(queue, count: 5, on: .citizenReply)
        try await queue.enqueue(try NewJob(queue: .citizenReply, payload: Ping(n: 9), delay: .seconds(600)))
        try await Task.sleep(for: .milliseconds(100))
        let before = try #require(try await queue.statistics().first { $0.queue == "citizen-reply" })
        #expect(before.ready == 5)
        #expect(before.scheduled == 1)
        #expect(before.oldestReadySeconds >= 0.05)
        let consumer = RunningConsumer(QueueConsumer(
            pool: db.pool, listener: nil, configuration: ConsumerConfiguration(queue: .citizenReply, pollInterval: .milliseconds(50)),
            handler: .effects(ClosureJobHandler { _ in }), logger: db.logger, metrics: registry
        ))
        #expect(try await eventually { try await db.jobCount(.citizenReply) == 1 })
        await consumer.stop()
        let text = await registry.render()
        #expect(text.contains("amtsweg_queue_jobs_done_total{queue=\"citizen-reply\"} 5"))
        #expect(text.contains("amtsweg_queue_handler_seconds_count{queue=\"citizen-reply\"} 5"))
    }
}

/// Records when job ids were seen by a handler.
final class StartTimes: Sendable {
    private let seen = Mutex<Set<Int64>>([])
    func record(_ id: Int64) { seen.withLock { _ = $0.insert(id) } }
    func contains(_ id: Int64) -> Bool { seen.withLock { $0.contains(id) } }
}

@Suite struct QueueMetricsTests {
    @Test func statisticsAppearInThePrometheusText() async throws {
        let db = try await TestDatabase.make()
        let queue = db.makeQueue()
        try await db.fill(queue, count: 3)
        let registry = MetricsRegistry()
        queue.registerStatistics(in: registry)
        let text = await registry.render()
        #expect(text.contains("amtsweg_queue_ready_jobs{queue=\"route\"} 3\n"))
        #expect(text.contains("amtsweg_queue_dead_letters{queue=\"notify-email\"} 0\n"))
        #expect(text.contains("# TYPE amtsweg_queue_oldest_ready_age_seconds gauge"))
    }
}

@Suite struct LeaseLossTests {
    @Test func aConsumerNeverAcksAJobWhoseLeaseItLost() async throws {
        let db = try await TestDatabase.make()
        let queue = db.makeQueue()
        let registry = MetricsRegistry()
        let gate = SharedCounter()
        let consumer = RunningConsumer(QueueConsumer(
            pool: db.pool, listener: nil,
            configuration: ConsumerConfiguration(queue: .notifyEmail, pollInterval: .milliseconds(50)),
            handler: .effects(ClosureJobHandler { _ in
                gate.add()
                while gate.current < 2 { try await Task.sleep(for: .milliseconds(10)) }
            }), logger: db.logger, metrics: registry
        ))
        let id = try #require(try await queue.enqueue(try NewJob(queue: .notifyEmail, payload: Ping(n: 1))))
        #expect(await eventually { gate.current == 1 })
        // Another consumer took the job over (as after an expired lease): new lease id.
        try await db.pool.query("UPDATE queue_jobs SET lease_id = gen_random_uuid(), leased_by = 'other' WHERE id = \(id)")
        gate.add()  // let the first handler finish
        #expect(await eventually { registry.counter("amtsweg_queue_leases_lost_total", help: "").value(["queue": "notify-email"]) == 1 })
        await consumer.stop()
        // The job is still there, held by the other consumer.
        #expect(try await db.scalar("SELECT leased_by FROM queue_jobs WHERE id = \(id)", as: String.self) == "other")
    }

    @Test func aRunningHandlersDeadlineMovesOnWithItsLeaseAndIsLostAtTheFirstExtensionAfterATakeOver() async throws {
        let db = try await TestDatabase.make()
        let queue = db.makeQueue()
        let registry = MetricsRegistry()
        let started = SharedCounter()
        let lostAt = Mutex<ContinuousClock.Instant?>(nil)
        // Lease 3 s: extended every 1 s, each renewal's deadline 2.7 s after it was sent.
        let consumer = RunningConsumer(QueueConsumer(
            pool: db.pool, listener: nil,
            configuration: ConsumerConfiguration(queue: .notifyEmail, leaseDuration: .seconds(3), pollInterval: .milliseconds(50)),
            handler: .effects(ClosureJobHandler { job in
                started.add()
                let until = ContinuousClock.now + .seconds(20)
                while !job.deadline.hasPassed && ContinuousClock.now < until { try await Task.sleep(for: .milliseconds(10)) }
                lostAt.withLock { $0 = .now }
                throw LeaseLostError()
            }), logger: db.logger, metrics: registry
        ))
        let id = try #require(try await queue.enqueue(try NewJob(queue: .notifyEmail, payload: Ping(n: 1))))
        #expect(await eventually { started.current == 1 })
        // Longer than the lease: the extensions keep moving the deadline on.
        try await Task.sleep(for: .seconds(4))
        #expect(lostAt.withLock { $0 } == nil, "the deadline passed while the lease was being extended")
        // Another consumer takes the job over: the next extension (within 1 s) does not renew it.
        try await db.pool.query("UPDATE queue_jobs SET lease_id = gen_random_uuid(), leased_by = 'other', run_at = now() + interval '1 minute' WHERE id = \(id)")
        let takenOver = ContinuousClock.now
        #expect(await eventually(timeout: .seconds(5)) { lostAt.withLock { $0 } != nil })
        let noticed = try #require(lostAt.withLock { $0 }) - takenOver
        // Not merely the deadline running out (at least 1.7 s after the take-over).
        #expect(noticed < .milliseconds(1500), "noticed after \(noticed)")
        #expect(await eventually { registry.counter("amtsweg_queue_leases_lost_total", help: "").value(["queue": "notify-email"]) == 1 })
        await consumer.stop()
        // Nothing written over the new owner's claim: no retry, no error, its lease intact.
        let rows = try await db.pool.query("SELECT leased_by, last_error, run_at > now() AS leased FROM queue_jobs WHERE id = \(id)")
        #expect(try rows.first?.decode("leased_by", as: String.self) == "other")
        #expect(try rows.first?.decode("last_error", as: String?.self) == nil)
        #expect(try rows.first?.decode("leased", as: Bool.self) == true)
    }
}
