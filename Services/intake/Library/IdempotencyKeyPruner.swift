import Logging
import Postgres
import ServiceRuntime

/// Deletes idempotency keys past `expires_at` (at least 24 h after they were stored) every
/// `interval`, in small batches. Any number of intake replicas may run it; they only share work.
public struct IdempotencyKeyPruner: Service {
    public let name = "idempotency-key-pruner"
    let pool: PostgresPool
    let interval: Duration
    let logger: Logger

    public init(pool: PostgresPool, interval: Duration = .seconds(600), logger: Logger) {
        self.pool = pool
        self.interval = interval
        self.logger = logger
    }

    public func run(shutdown: ShutdownSignal) async throws {
        while !shutdown.isTriggered {
            do {
                let pruned = try await pruneOnce()
                if pruned > 0 { logger.info("pruned expired idempotency keys", ["count": String(pruned)]) }
            } catch {
                logger.warning("pruning idempotency keys failed; will retry", ["error": String(describing: error)])
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await Task.sleep(for: interval) }
                group.addTask { await shutdown.wait() }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Deletes expired keys in batches of 1,000; returns how many went.
    @discardableResult
    public func pruneOnce() async throws -> Int {
        var total = 0
        while true {
            let deleted = try await pool.query("""
                DELETE FROM intake_idempotency_keys WHERE ctid = ANY(ARRAY(
                    SELECT ctid FROM intake_idempotency_keys WHERE expires_at < now() LIMIT 1000 FOR UPDATE SKIP LOCKED))
                """).affectedRows
            total += deleted
            if deleted < 1000 { return total }
        }
    }
}
