// Routing benchmark (issue 5): the Routing library's route handler on the real queue consumer,
// configured like the `routing` executable (ROUTING_CONCURRENCY / ROUTING_BATCH_SIZE), against a
// private, durable PostgreSQL (fsync on) unless DATABASE_URL is set.
//
//   routing-bench [--applications 10000] [--rate 200] [--seconds 15] [--concurrency 4] [--batch 50]
//
// Set-up: one tenant, 50 services × 3 areas (two postal-code ranges and a default) × 5 members
// who all want e-mail; every application has a citizen postbox, so each routing writes the
// assignment, a timeline event, an audit entry, a receipt message, 5 notify-email jobs and a
// citizen-outbox job, and wakes the area's inboxes.
// 1. throughput: `--applications` applications and route jobs pre-queued, then one consumer
//    process drains them: applications assigned per second.
// 2. latency: applications offered at `--rate`/s (open loop, each in its own intake-like
//    transaction with the route job and a coalesced wake-up), from the producer's commit to the
//    routing transaction's commit: p50/p99/max.
import Foundation
import Domain
import JobQueue
import QueueContracts
import Logging
import Metrics
import Postgres
import Routing
import Synchronization
import TestSupport

func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

func option(_ name: String, _ fallback: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1]) else { return fallback }
    return value
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

/// When each application was committed by the producer and by routing.
final class Stamps: Sendable {
    private let state = Mutex<(offered: [UUID: ContinuousClock.Instant], routed: [UUID: ContinuousClock.Instant], started: [UUID: ContinuousClock.Instant])>(([:], [:], [:]))
    func offered(_ id: UUID, _ at: ContinuousClock.Instant) { state.withLock { $0.offered[id] = at } }
    func started(_ id: UUID, _ at: ContinuousClock.Instant) { state.withLock { $0.started[id] = at } }
    /// offered → handler start (waiting in the queue), handler start → commit (the batch's transaction).
    func split() -> (waiting: [Double], running: [Double]) {
        state.withLock { state in
            var waiting: [Double] = [], running: [Double] = []
            for (id, offered) in state.offered {
                guard let started = state.started[id], let routed = state.routed[id] else { continue }
                waiting.append((started - offered).seconds)
                running.append((routed - started).seconds)
            }
            return (waiting.sorted(), running.sorted())
        }
    }
    func routed(_ id: UUID, _ at: ContinuousClock.Instant) { state.withLock { $0.routed[id] = at } }
    var routedCount: Int { state.withLock { $0.routed.count } }
    func latencies() -> [Double] {
        state.withLock { state in
            state.offered.compactMap { id, offered in state.routed[id].map { ($0 - offered).seconds } }
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// The production handler, plus a commit stamp per application for the measurement.
struct StampingHandler: TransactionalJobHandler {
    let inner: RouteJobHandler
    let stamps: Stamps
    func handle(_ job: Job, in transaction: Transaction) async throws {
        let id = UUID(uuidString: try job.payload(as: RouteJob.self).applicationID)!
        stamps.started(id, .now)
        try await inner.handle(job, in: transaction)
        transaction.afterCommit { stamps.routed(id, .now) }
    }
}

let applications = option("--applications", 10_000)
let rate = option("--rate", 200)
let offerSeconds = option("--seconds", 15)
let concurrency = option("--concurrency", 4)
let batchSize = option("--batch", 50)
let logger = Logger(service: "routing-bench", minimumLevel: .error)

let url: String
var server: PostgresTestServer?
if let given = ProcessInfo.processInfo.environment["DATABASE_URL"], !given.isEmpty {
    url = given
} else {
    let started = try await PostgresTestServer.start(options: .init(durable: true))
    server = started
    url = try await started.makeDatabase()
}
let configuration = PostgresConfiguration(url: url, applicationName: "routing-bench")
let pool = PostgresPool(configuration: configuration, pool: .init(maxConnections: concurrency + 4), logger: logger)
let producerPool = PostgresPool(configuration: configuration, pool: .init(maxConnections: 16), logger: logger)
let notifyPool = PostgresPool(configuration: configuration, pool: .init(maxConnections: 1), logger: logger)
let producerNotifyPool = PostgresPool(configuration: configuration, pool: .init(maxConnections: 1), logger: logger)

// MARK: Set-up
let tenant = try await pool.query("INSERT INTO tenants (slug, name, reference_prefix) VALUES ('bench', 'Bench', 'BEN') RETURNING id")[0].decode("id", as: UUID.self)
var services: [UUID] = []
for s in 0..<50 {
    let service = try await pool.query("INSERT INTO services (tenant_id, key, name) VALUES (\(tenant), \("service-\(s)"), \("Dienst \(s)")) RETURNING id")[0].decode("id", as: UUID.self)
    services.append(service)
    for a in 0..<3 {
        let area = try await pool.query("INSERT INTO responsibility_areas (tenant_id, service_id, name) VALUES (\(tenant), \(service), \("area-\(a)")) RETURNING id")[0].decode("id", as: UUID.self)
        let (kind, definition) = switch a {
        case 0: ("postal_codes", #"{"values": ["00000-33332"]}"#)
        case 1: ("postal_codes", #"{"values": ["33333-66665"]}"#)
        default: ("default", "{}")
        }
        try await pool.query("""
            INSERT INTO area_rules (tenant_id, service_id, area_id, position, kind, definition)
            VALUES (\(tenant), \(service), \(area), \(a), \(kind), \(PostgresRawJSON(definition))::jsonb)
            """)
        try await pool.query("""
            WITH c AS (
                INSERT INTO caseworkers (tenant_id, name, email)
                SELECT \(tenant), 'cw ' || m, 's' || \(s) || 'a' || \(a) || 'm' || m || '@bench.example' FROM generate_series(1, 5) AS m
                RETURNING id)
            INSERT INTO area_members (tenant_id, area_id, caseworker_id) SELECT \(tenant), \(area), id FROM c
            """)
    }
}
let serviceArray = services
let references = SharedCounter()

/// Inserts `count` applications round-robin over the services; returns their ids.
func insertApplications(_ count: Int, in tx: Transaction) async throws -> [UUID] {
    let first = references.add(count) - count + 1
    return try await tx.query("""
        INSERT INTO applications (tenant_id, service_id, reference, applicant, form, postbox_mailbox_id, postbox_trust_level, submitted_at)
        SELECT \(tenant), (\(serviceArray)::uuid[])[1 + (n % 50)], 'BEN-2026-' || lpad(n::text, 6, '0'),
               jsonb_build_object('name', 'Erika Mustermann', 'address', jsonb_build_object('postal_code', lpad(((n * 7919) % 100000)::text, 5, '0'))),
               '{}'::jsonb, gen_random_uuid(), 'substantial', now()
        FROM generate_series(\(first)::int, \(first + count - 1)::int) AS n
        RETURNING id
        """).map { try $0.decode("id", as: UUID.self) }
}

func routeJobs(_ ids: [UUID]) throws -> [NewJob] {
    try ids.map { try NewJob(RouteJob(applicationID: $0), tenantID: tenant) }
}

let producerQueue = JobQueue(pool: producerPool, notifier: QueueNotifier(pool: producerNotifyPool, logger: logger))
var remaining = applications
while remaining > 0 {
    let chunk = min(remaining, 1000)
    try await producerPool.withTransaction { tx in
        try await producerQueue.enqueue(try routeJobs(try await insertApplications(chunk, in: tx)), in: tx)
    }
    remaining -= chunk
}
try await pool.query("VACUUM ANALYZE")
say("set-up: 50 services × 3 areas × 5 members, \(applications) applications and route jobs pre-queued; consumer concurrency \(concurrency), batch \(batchSize)")

// MARK: Consumer
let metrics = MetricsRegistry()
let stamps = Stamps()
let routing = Routing(queue: JobQueue(pool: pool, notifier: QueueNotifier(pool: notifyPool, logger: logger)), metrics: metrics, logger: logger)
let listener = PostgresListener(configuration: configuration, logger: logger)
let consumer = QueueConsumer(
    pool: pool, listener: listener,
    configuration: ConsumerConfiguration(queue: .route, batchSize: batchSize, concurrency: concurrency),
    handler: .transactional(StampingHandler(inner: RouteJobHandler(routing: routing, metrics: metrics), stamps: stamps)),
    logger: logger, metrics: metrics
)

// MARK: 1. Throughput
let start = ContinuousClock.now
let running = Task { await consumer.run() }
while stamps.routedCount < applications { try await Task.sleep(for: .milliseconds(5)) }
let elapsed = (ContinuousClock.now - start).seconds
let assigned = try await pool.query("SELECT count(*)::int AS n FROM applications WHERE status = 'assigned'")[0].decode("n", as: Int.self)
let emailJobs = try await pool.query("SELECT count(*)::int AS n FROM queue_jobs WHERE queue = 'notify-email'")[0].decode("n", as: Int.self)
say(String(format: "throughput: %d applications assigned in %.2f s = %.0f applications/s (%d notify-email jobs)", assigned, elapsed, Double(assigned) / elapsed, emailJobs))

// MARK: 2. Latency at the offered rate
try await Task.sleep(for: .milliseconds(500))
let total = rate * offerSeconds
let interval = Duration.seconds(1) / rate
let offerStart = ContinuousClock.now
await withTaskGroup(of: Void.self) { group in
    for i in 0..<total {
        let due = offerStart + interval * i
        try? await Task.sleep(until: due, clock: .continuous)
        group.addTask {
            do {
                let id = try await producerPool.withTransaction { tx -> UUID in
                    let ids = try await insertApplications(1, in: tx)
                    try await producerQueue.enqueue(try routeJobs(ids), in: tx)
                    return ids[0]
                }
                stamps.offered(id, .now)
            } catch {
                say("offer failed: \(error)")
            }
        }
    }
}
let offeredFor = (ContinuousClock.now - offerStart).seconds
while stamps.routedCount < applications + total {
    try await Task.sleep(for: .milliseconds(20))
    if (ContinuousClock.now - offerStart).seconds > Double(offerSeconds) + 30 { break }
}
let latencies = stamps.latencies().sorted()
say(String(format: "latency at %.0f/s offered (%d applications): producer commit → routing commit p50 %.2f ms, p99 %.2f ms, max %.2f ms",
           Double(total) / offeredFor, latencies.count, percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000, (latencies.last ?? .nan) * 1000))
let (waiting, runningTimes) = stamps.split()
say(String(format: "  of which: waiting in the queue p50 %.2f ms, p99 %.2f ms; handler start → commit p50 %.2f ms, p99 %.2f ms",
           percentile(waiting, 0.5) * 1000, percentile(waiting, 0.99) * 1000, percentile(runningTimes, 0.5) * 1000, percentile(runningTimes, 0.99) * 1000))
say("NOTIFY statements (queues and inboxes): \(routing.lifecycle.queue.notifier?.statementsSent ?? 0) for \(applications + total) applications")

for line in await metrics.render().split(separator: "\n")
where (line.hasPrefix("amtsweg_queue_jobs_retried_total") || line.hasPrefix("amtsweg_queue_jobs_dead_total") || line.hasPrefix("amtsweg_queue_leases_lost_total")) {
    say("consumer: \(line)")
}
consumer.stop()
await running.value
listener.stop()
server?.stop()
