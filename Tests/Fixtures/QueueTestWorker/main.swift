// A consumer in a process of its own, for tests that kill it mid-flight.
//
//   queue-test-worker <database-url> <queue> <lease-ms> hang|record
//
// hang:   claims jobs and never finishes them (the test SIGKILLs the process).
// record: DB-only handler that inserts each job id into `handled` (created by the test).
import JobQueue
import Logging
import Postgres
import Glibc

let arguments = CommandLine.arguments
guard arguments.count == 5, let leaseMilliseconds = Int64(arguments[3]) else {
    print("usage: queue-test-worker <database-url> <queue> <lease-ms> hang|record")
    exit(2)
}

func runWorker(url: String, queueName: String, leaseMilliseconds: Int64, mode: String) async throws {
    let logger = Logger(service: "queue-test-worker", minimumLevel: .warning)
    let configuration = PostgresConfiguration(url: url, applicationName: "queue-test-worker")
    let pool = PostgresPool(configuration: configuration, logger: logger)
    let listener = PostgresListener(configuration: configuration, logger: logger)
    let handler: QueueConsumer.Handler = mode == "hang"
        ? .effects(ClosureJobHandler { _ in try await Task.sleep(for: .seconds(3600)) })
        : .transactional(ClosureTransactionalJobHandler { job, tx in
            try await tx.query("INSERT INTO handled (job_id) VALUES (\(job.id))")
        })
    let consumer = QueueConsumer(
        pool: pool, listener: listener,
        configuration: ConsumerConfiguration(queue: try QueueName(queueName), batchSize: 50, concurrency: 50, leaseDuration: .milliseconds(leaseMilliseconds), pollInterval: .milliseconds(200)),
        handler: handler, logger: logger
    )
    await consumer.run()
}

try await runWorker(url: arguments[1], queueName: arguments[2], leaseMilliseconds: leaseMilliseconds, mode: arguments[4])
