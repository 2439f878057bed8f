// queue-bench: figures of the PostgreSQL queue, printed side by side with pgqueuer's in one run.
//
//   queue-bench [--jobs 100000] [--latency-jobs 1000] [--commit-seconds 5] [--pgqueuer-python PATH]
//
// Starts a private, durable PostgreSQL (fsync on) unless DATABASE_URL is set, and measures:
//   1. burn-down: N jobs pre-inserted, drained by our consumer (database-only no-op handler)
//   2. serial enqueue → handler-start latency, consumer idle in LISTEN, fallback poll 60 s
//   3. producer commit rate with queue notifications on vs off
//   4. the same burn-down with pgqueuer (Benchmarks/pgqueuer/burndown.py), and the ratio
import Foundation
import JobQueue
import Logging

@_spi(Unparameterised) import Postgres
import Synchronization
import TestSupport

struct Options {
    var jobs = 100_000
    var latencyJobs = 1000
    var commitSeconds = 5.0
    var producers = 4
    var pgqueuerPython: String?
    var batchSize = 500
    var lanes = 2

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--jobs": jobs = Int(iterator.next() ?? "") ?? jobs
            case "--latency-jobs": latencyJobs = Int(iterator.next() ?? "") ?? latencyJobs
            case "--commit-seconds": commitSeconds = Double(iterator.next() ?? "") ?? commitSeconds
            case "--producers": producers = Int(iterator.next() ?? "") ?? producers
            case "--batch-size": batchSize = Int(iterator.next() ?? "") ?? batchSize
            case "--lanes": lanes = Int(iterator.next() ?? "") ?? lanes
            case "--pgqueuer-python": pgqueuerPython = iterator.next()
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
    }
}

struct Payload: Codable, Sendable { var n: Int }

func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

/// Hands the time a handler started a job to the task waiting for it (no spinning: the
/// benchmark must not steal the consumer's CPU).
final class Seen: Sendable {
    private struct State {
        var times: [Int64: ContinuousClock.Instant] = [:]
        var waiters: [Int64: CheckedContinuation<ContinuousClock.Instant, Never>] = [:]
    }
    private let state = Mutex(State())

    func record(_ id: Int64) {
        let now = ContinuousClock.now
        let waiter = state.withLock { state -> CheckedContinuation<ContinuousClock.Instant, Never>? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            state.times[id] = now
            return nil
        }
        waiter?.resume(returning: now)
    }

    func wait(for id: Int64) async -> ContinuousClock.Instant {
        await withCheckedContinuation { continuation in
            let time = state.withLock { state -> ContinuousClock.Instant? in
                if let time = state.times.removeValue(forKey: id) { return time }
                state.waiters[id] = continuation
                return nil
            }
            if let time { continuation.resume(returning: time) }
        }
    }
}

struct Bench {
    let options: Options
    let server: PostgresTestServer
    let logger = Logger(service: "queue-bench", minimumLevel: .warning)

    func freshDatabase() async throws -> (url: String, pool: PostgresPool, queue: JobQueue, notifierPool: PostgresPool) {
        let url = try await server.makeDatabase()
        let configuration = PostgresConfiguration(url: url, applicationName: "queue-bench")
        let pool = PostgresPool(configuration: configuration, pool: .init(maxConnections: 16), logger: logger)
        let notifierPool = PostgresPool(configuration: configuration, pool: .init(maxConnections: 1), logger: logger)
        return (url, pool, JobQueue(pool: pool, notifier: QueueNotifier(pool: notifierPool, logger: logger)), notifierPool)
    }

    func fill(_ queue: JobQueue, _ pool: PostgresPool, count: Int) async throws {
        var start = 0
        while start < count {
            let end = min(start + 5000, count)
            let jobs = try (start..<end).map { try NewJob(queue: .route, payload: Payload(n: $0)) }
            try await pool.withTransaction { try await queue.enqueue(jobs, in: $0) }
            start = end
        }
        try await pool.query("VACUUM ANALYZE queue_jobs")
    }

    /// 1. Burn-down with the database-only handler (ack in the handler's transaction).
    func burnDown() async throws -> Double {
        let (url, pool, queue, notifierPool) = try await freshDatabase()
        try await fill(queue, pool, count: options.jobs)
        let listener = PostgresListener(configuration: PostgresConfiguration(url: url), logger: logger)
        let consumer = QueueConsumer(
            pool: pool, listener: listener,
            configuration: ConsumerConfiguration(queue: .route, batchSize: options.batchSize, concurrency: options.lanes, pollInterval: .seconds(1)),
            handler: .transactional(ClosureTransactionalJobHandler { _, _ in }), logger: logger
        )
        let started = ContinuousClock.now
        let task = Task { await consumer.run() }
        while true {
            let left = try await pool.query("SELECT count(*)::int AS n FROM queue_jobs")[0].decode("n", as: Int.self)
            if left == 0 { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        let elapsed = seconds(ContinuousClock.now - started)
        consumer.stop()
        await task.value
        listener.stop()
        await pool.close()
        await notifierPool.close()
        return Double(options.jobs) / elapsed
    }

    /// 2. Serial enqueue → handler start, consumer idle in LISTEN (poll 60 s). Measured from the
    /// producer's commit (the job exists from then on), and from the call to enqueue.
    func latency() async throws -> (fromCommit: [Double], fromCall: [Double]) {
        let (url, pool, queue, notifierPool) = try await freshDatabase()
        let listener = PostgresListener(configuration: PostgresConfiguration(url: url), logger: logger)
        let seen = Seen()
        let consumer = QueueConsumer(
            pool: pool, listener: listener,
            configuration: ConsumerConfiguration(queue: .route, pollInterval: .seconds(60)),
            handler: .effects(ClosureJobHandler { job in seen.record(job.id) }), logger: logger
        )
        let task = Task { await consumer.run() }
        try await Task.sleep(for: .milliseconds(500))
        var fromCommit: [Double] = []
        var fromCall: [Double] = []
        for n in 0..<options.latencyJobs {
            let before = ContinuousClock.now
            guard let id = try await queue.enqueue(try NewJob(queue: .route, payload: Payload(n: n))) else { continue }
            let committed = ContinuousClock.now
            let seenAt = await seen.wait(for: id)
            fromCommit.append(max(0, seconds(seenAt - committed) * 1000))
            fromCall.append(seconds(seenAt - before) * 1000)
            try await Task.sleep(for: .milliseconds(2))
        }
        consumer.stop()
        await task.value
        listener.stop()
        await pool.close()
        await notifierPool.close()
        return (fromCommit.sorted(), fromCall.sorted())
    }

    /// 3. Commits per second of producers each enqueuing one job per transaction.
    func commitRate(notifications: Bool) async throws -> (rate: Double, notifyStatements: Int) {
        let url = try await server.makeDatabase()
        let configuration = PostgresConfiguration(url: url, applicationName: "queue-bench")
        let pool = PostgresPool(configuration: configuration, pool: .init(maxConnections: options.producers), logger: logger)
        let notifierPool = PostgresPool(configuration: configuration, pool: .init(maxConnections: 1), logger: logger)
        let notifier = QueueNotifier(pool: notifierPool, configuration: .init(enabled: notifications), logger: logger)
        let queue = JobQueue(pool: pool, notifier: notifier)
        let listener = PostgresListener(configuration: configuration, logger: logger)
        _ = try await listener.subscribe(to: [QueueName.route.channel])  // a listener is there, as in production
        let deadline = ContinuousClock.now + .milliseconds(Int64(options.commitSeconds * 1000))
        let started = ContinuousClock.now
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for producer in 0..<options.producers {
                group.addTask {
                    var count = 0
                    while ContinuousClock.now < deadline {
                        try await queue.enqueue(try NewJob(queue: .route, payload: Payload(n: producer * 1_000_000 + count)))
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = seconds(ContinuousClock.now - started)
        listener.stop()
        await pool.close()
        await notifierPool.close()
        return (Double(total) / elapsed, notifier.statementsSent)
    }

    /// 4. pgqueuer's burn-down on a fresh database of the same server.
    func pgqueuer(python: String) async throws -> Double {
        let url = try await server.makeDatabase(migrated: false)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("pgqueuer/burndown.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, "--dsn", url, "--jobs", String(options.jobs), "--batch-size", "100"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = String(data: data, encoding: .utf8)?.split(separator: "\n").last,
              let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let rate = json["jobs_per_second"] as? Double
        else { throw TestServerError("pgqueuer burn-down failed (exit \(process.terminationStatus))") }
        return rate
    }
}

let options = Options(CommandLine.arguments)
let server = try await PostgresTestServer.start(options: .init(durable: true))
defer { server.stop() }
let bench = Bench(options: options, server: server)
say("queue-bench: PostgreSQL private server (fsync on, synchronous_commit on), Unix socket; \(ProcessInfo.processInfo.activeProcessorCount) cores")

let ours = try await bench.burnDown()
say(String(format: "burn-down (ours):      %8.0f jobs/s  (%d jobs, DB-only handler, batch %d, %d lanes)", ours, options.jobs, options.batchSize, options.lanes))

let (fromCommit, fromCall) = try await bench.latency()
say(String(format: "latency commit→start:  p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%d serial jobs, poll 60 s)",
           percentile(fromCommit, 0.5), percentile(fromCommit, 0.99), fromCommit.last ?? 0, fromCommit.count))
say(String(format: "latency call→start:    p50 %.2f ms  p99 %.2f ms  max %.2f ms  (includes the durable commit)",
           percentile(fromCall, 0.5), percentile(fromCall, 0.99), fromCall.last ?? 0))

let off = try await bench.commitRate(notifications: false)
let on = try await bench.commitRate(notifications: true)
let off2 = try await bench.commitRate(notifications: false)
let on2 = try await bench.commitRate(notifications: true)
let offRate = (off.rate + off2.rate) / 2
let onRate = (on.rate + on2.rate) / 2
say(String(format: "producer commits/s:    notify off %.0f  on %.0f  → %.0f %%  (%d producers, %d NOTIFY statements for %.0f commits)",
           offRate, onRate, onRate / offRate * 100, options.producers, on.notifyStatements + on2.notifyStatements, (on.rate + on2.rate) * options.commitSeconds))

if let python = options.pgqueuerPython {
    let theirs = try await bench.pgqueuer(python: python)
    say(String(format: "burn-down (pgqueuer):  %8.0f jobs/s  (%d jobs, batch 100)", theirs, options.jobs))
    say(String(format: "ratio ours/pgqueuer:   %.2f", ours / theirs))
} else {
    say("pgqueuer: skipped (pass --pgqueuer-python; Benchmarks/queue.sh sets it up)")
}
