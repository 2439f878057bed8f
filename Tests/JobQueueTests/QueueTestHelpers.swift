import Foundation
import HTTPTestSupport
import JobQueue
import Logging
import Postgres
import TestSupport

struct Ping: Codable, Sendable { var n: Int }

extension TestDatabase {
    func makeQueue(notify: Bool = true) -> JobQueue {
        let notifierPool = PostgresPool(configuration: configuration, pool: .init(maxConnections: 1), logger: logger)
        return JobQueue(pool: pool, notifier: notify ? QueueNotifier(pool: notifierPool, logger: logger) : nil)
    }

    func makeListener() -> PostgresListener {
        PostgresListener(configuration: configuration, logger: logger)
    }

    func jobCount(_ queue: QueueName = .route) async throws -> Int {
        try await scalar("SELECT count(*)::int FROM queue_jobs WHERE queue = \(queue.rawValue)", as: Int.self)
    }

    /// Enqueues `count` jobs in batches of 1,000.
    func fill(_ queue: JobQueue, count: Int, on name: QueueName = .route, maxAttempts: Int? = nil) async throws {
        var start = 0
        while start < count {
            let end = min(start + 1000, count)
            let jobs = try (start..<end).map { try NewJob(queue: name, payload: Ping(n: $0), maxAttempts: maxAttempts) }
            try await pool.withTransaction { try await queue.enqueue(jobs, in: $0) }
            start = end
        }
    }

    func createHandledTable() async throws {
        try await pool.query("CREATE TABLE handled (job_id bigint NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())")
    }
}

/// Runs `consumer` in a task; `stop()` waits for it to return.
struct RunningConsumer: Sendable {
    let consumer: QueueConsumer
    let task: Task<Void, Never>

    init(_ consumer: QueueConsumer) {
        self.consumer = consumer
        task = Task { await consumer.run() }
    }

    func stop() async {
        consumer.stop()
        await task.value
    }
}

/// The `queue-test-worker` fixture, started with `arguments`; returns its pid (SIGKILL it and `reap`).
func startWorker(_ arguments: [String]) throws -> pid_t {
    try spawn([try builtProduct("queue-test-worker")] + arguments, outputPath: "/dev/null")
}
