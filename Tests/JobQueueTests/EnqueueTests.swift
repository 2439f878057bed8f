import Foundation
import JobQueue
import Postgres
import Testing
import TestSupport

@Suite struct EnqueueTests {
    struct Boom: Error {}

    @Test func rolledBackEnqueueLeavesNoJobAndCommittedOneLeavesExactlyOne() async throws {
        let db = try await TestDatabase.make()
        let queue = db.makeQueue()
        await #expect(throws: Boom.self) {
            try await db.pool.withTransaction { tx in
                try await queue.enqueue(try NewJob(queue: .route, payload: Ping(n: 1)), in: tx)
                throw Boom()
            }
        }
        #expect(try await db.jobCount() == 0)
        let id = try await db.pool.withTransaction { tx in
            try await queue.enqueue(try NewJob(queue: .route, payload: Ping(n: 2), tenantID: UUID()), in: tx)
        }
        #expect(id != nil)
        #expect(try await db.jobCount() == 1)
        let row = try await db.pool.query("SELECT payload->>'n' AS n, max_attempts FROM queue_jobs")[0]
        #expect(try row.decode("n", as: String.self) == "2")
        #expect(try row.decode("max_attempts", as: Int.self) == 20)  // the route queue's default
    }

    @Test func dedupeKeyMakesASecondLiveEnqueueANoOp() async throws {
        let db = try await TestDatabase.make()
        let queue = db.makeQueue()
        let first = try await queue.enqueue(try NewJob(queue: .notifyEmail, payload: Ping(n: 1), dedupeKey: "app-1/cw-1"))
        let second = try await queue.enqueue(try NewJob(queue: .notifyEmail, payload: Ping(n: 1), dedupeKey: "app-1/cw-1"))
        let otherQueue = try await queue.enqueue(try NewJob(queue: .citizenOutbox, payload: Ping(n: 1), dedupeKey: "app-1/cw-1"))
        #expect(first != nil)
        #expect(second == nil)
        #expect(otherQueue != nil)
        #expect(try await db.jobCount(.notifyEmail) == 1)
    }

    @Test func batchEnqueueInsertsAllWithOptionsApplied() async throws {
        let db = try await TestDatabase.make()
        let queue = db.makeQueue()
        let tenant = UUID()
        let jobs = try [
            NewJob(queue: .route, payload: Ping(n: 1), tenantID: tenant, priority: 5),
            NewJob(queue: .route, payload: Ping(n: 2), delay: .seconds(60), maxAttempts: 3),
            NewJob(queue: .notifyEmail, payload: ["text": "Grüße \"quoted\" \\ back"], dedupeKey: "k"),
        ]
        let ids = try await db.pool.withTransaction { try await queue.enqueue(jobs, in: $0) }
        #expect(ids.count == 3)
        let rows = try await db.pool.query("""
            SELECT priority, max_attempts, run_at > now() + interval '50 seconds' AS delayed, tenant_id, payload->>'text' AS text
            FROM queue_jobs ORDER BY id
            """)
        #expect(try rows[0].decode("priority", as: Int.self) == 5)
        #expect(try rows[0].decode("tenant_id", as: UUID?.self) == tenant)
        #expect(try rows[1].decode("delayed", as: Bool.self))
        #expect(try rows[1].decode("max_attempts", as: Int.self) == 3)
        #expect(try rows[2].decode("text", as: String?.self) == "Grüße \"quoted\" \\ back")
    }

    @Test func badInputGetsClearErrors() async throws {
        let db = try await TestDatabase.make()
        let queue = db.makeQueue()
        // A malformed queue name never reaches the database.
        #expect(throws: QueueError.self) { try QueueName("Route; DROP TABLE") }
        // A well-formed name that is not defined in queue_definitions.
        do {
            try await queue.enqueue(try NewJob(queue: try QueueName("no-such-queue"), payload: Ping(n: 1)))
            Issue.record("enqueued on an unknown queue")
        } catch let error as QueueError {
            #expect(error.code == .unknownQueue)
            #expect(error.message.contains("no-such-queue"))
        }
        // Oversized payload: the limit is named in the error.
        let big = String(repeating: "x", count: QueueLimits.maxPayloadBytes + 1)
        do {
            _ = try NewJob(queue: .route, payload: ["blob": big])
            Issue.record("accepted an oversized payload")
        } catch {
            #expect(error.code == .payloadTooLarge)
            #expect(error.message.contains("\(QueueLimits.maxPayloadBytes)"))
        }
        // Invalid JSON.
        do {
            _ = try NewJob(queue: .route, jsonPayload: Data("{\"a\": ".utf8))
            Issue.record("accepted invalid JSON")
        } catch {
            #expect(error.code == .invalidPayload)
        }
        #expect(throws: QueueError.self) { try NewJob(queue: .route, payload: Ping(n: 1), maxAttempts: 0) }
        #expect(throws: QueueError.self) { try NewJob(queue: .route, payload: Ping(n: 1), dedupeKey: "") }
        #expect(try await db.jobCount() == 0)
    }
}

@Suite struct EnqueueUnderPoolPressureTests {
    @Test func enqueueInsideTransactionsNeverWaitsForASecondPooledConnection() async throws {
        // Every connection of the pool is inside a transaction that enqueues: reading the queue
        // definitions must use the transaction's own connection, or this times out.
        let db = try await TestDatabase.make(maxConnections: 2)
        let queue = db.makeQueue()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<8 {
                group.addTask {
                    try await db.pool.withTransaction { tx in
                        try await tx.query("SELECT pg_sleep(0.02)")
                        try await queue.enqueue(try NewJob(queue: .route, payload: Ping(n: n)), in: tx)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await db.jobCount() == 8)
    }
}
