import Foundation
import Logging
import Postgres
import Synchronization
import Testing
import TestSupport

@Suite struct PostgresPoolTests {
    struct Boom: Error {}

    @Test func transactionCommitsOnReturnAndRollsBackOnThrow() async throws {
        let db = try await TestDatabase.make()
        try await db.pool.query("CREATE TABLE t (v int)")
        let hooks = SharedCounter()
        try await db.pool.withTransaction { tx in
            try await tx.query("INSERT INTO t VALUES (1)")
            tx.afterCommit { hooks.add(1) }
        }
        await #expect(throws: Boom.self) {
            try await db.pool.withTransaction { tx in
                try await tx.query("INSERT INTO t VALUES (2)")
                tx.afterCommit { hooks.add(100) }
                throw Boom()
            }
        }
        #expect(try await db.scalar("SELECT string_agg(v::text, ',') FROM t", as: String.self) == "1")
        #expect(hooks.current == 1)
    }

    @Test func serializationFailureIsRetriedWhenAsked() async throws {
        let db = try await TestDatabase.make(maxConnections: 4)
        try await db.pool.query("CREATE TABLE counter (n int)")
        try await db.pool.query("INSERT INTO counter VALUES (0)")
        let options = TransactionOptions(isolation: .serializable, retryOnConflict: true, maxAttempts: 50)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<10 {
                        try await db.pool.withTransaction(options) { tx in
                            let n = try await tx.query("SELECT n FROM counter")[0].decode("n", as: Int.self)
                            try await tx.query("UPDATE counter SET n = \(n + 1)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await db.scalar("SELECT n FROM counter", as: Int.self) == 40)
    }

    @Test func poolIsBoundedAndTimesOut() async throws {
        let server = try await PostgresTestServer.shared()
        let url = try await server.makeDatabase()
        let pool = PostgresPool(
            configuration: PostgresConfiguration(url: url),
            pool: PostgresPoolConfiguration(maxConnections: 2, acquireTimeout: .milliseconds(300)),
            logger: Logger(service: "test", minimumLevel: .error)
        )
        let peak = SharedCounter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    try await pool.withConnection { connection in
                        let open = pool.openConnections
                        peak.raiseTo(open)
                        try await connection.query("SELECT pg_sleep(0.05)")
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(peak.current <= 2)
        // Hold both connections; a third caller times out with a clear code.
        try await pool.withConnection { _ in
            try await pool.withConnection { _ in
                do {
                    try await pool.query("SELECT 1")
                    Issue.record("acquired a third connection from a pool of two")
                } catch let error as PostgresError {
                    #expect(error.code == .poolTimeout)
                }
            }
        }
        await pool.close()
    }

    @Test func connectionLeftInsideATransactionIsNeverReused() async throws {
        let db = try await TestDatabase.make(maxConnections: 1)
        try await db.pool.withConnection { connection in
            try await connection.run("BEGIN")
            try await connection.query("CREATE TEMP TABLE leaked (v int)")
        }
        // The only slot was freed; the next connection is a fresh session.
        let leaked = try await db.scalar("SELECT to_regclass('pg_temp.leaked') IS NOT NULL", as: Bool.self)
        #expect(leaked == false)
        let idleInTransaction = try await db.scalar(
            "SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
            as: Int.self
        )
        #expect(idleInTransaction == 0)
    }

    @Test func poolRecoversAfterServerRestart() async throws {
        let server = try await PostgresTestServer.start()
        defer { server.stop() }
        let db = try await TestDatabase.make(on: server, maxConnections: 3)
        #expect(try await db.scalar("SELECT 1", as: Int.self) == 1)
        try await server.restart()
        // Idle connections died with the server; the pool notices and opens new ones.
        #expect(try await db.scalar("SELECT 2", as: Int.self) == 2)
        await db.pool.close()
    }

    @Test func poolWaitsWhileTheServerIsDownThenReconnects() async throws {
        let server = try await PostgresTestServer.start()
        defer { server.stop() }
        let db = try await TestDatabase.make(on: server, maxConnections: 2)
        _ = try await db.scalar("SELECT 1", as: Int.self)
        let restart = Task.detached { try await server.restart() }
        // Queries during the restart either succeed or fail cleanly; after it, they succeed.
        for _ in 0..<20 {
            _ = try? await db.pool.query("SELECT 1")
            try await Task.sleep(for: .milliseconds(20))
        }
        try await restart.value
        #expect(try await db.scalar("SELECT 3", as: Int.self) == 3)
        await db.pool.close()
    }
}
