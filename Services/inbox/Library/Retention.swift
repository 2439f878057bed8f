import ApplicationLifecycle
import Domain
import FoundationEssentials
import Logging
import Postgres
import ServiceRuntime

/// Runs the lifecycle's deletion of personal data (``ApplicationLifecycle/purgePersonalData(batchSize:on:)``)
/// over every application that is due, in batches.
///
/// Once a day, one replica: the sweep runs under a session advisory lock, and only when the
/// last recorded run in `maintenance_runs` started more than `interval` ago.
struct Retention: Sendable {
    let pool: PostgresPool
    let logger: Logger
    var batchSize = 200
    /// Key of the advisory lock ("retention" in ASCII, shortened).
    static let lockKey: Int64 = 0x7265_7465_6E74_696F

    /// Runs the sweep if it is due and no other replica runs it. Returns the number of
    /// applications cleaned, or nil when it was not this replica's turn.
    @discardableResult
    func runIfDue(interval: Duration = .seconds(86_400)) async throws -> Int? {
        try await pool.withConnection { connection in
            let locked = try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockKey)) AS locked")
            guard try locked[0].decode("locked", as: Bool.self) else { return nil }
            do {
                let seconds = Int(interval.components.seconds)
                let due = try await connection.query("""
                    INSERT INTO maintenance_runs AS r (name, last_started_at) VALUES ('retention', now())
                    ON CONFLICT (name) DO UPDATE SET last_started_at = now(), last_finished_at = NULL
                        WHERE r.last_started_at <= now() - \(seconds) * interval '1 second'
                    RETURNING name
                    """)
                var cleaned: Int?
                if !due.isEmpty {
                    var total = 0
                    while true {
                        let count = try await sweepBatch(connection)
                        total += count
                        if count < batchSize { break }
                    }
                    try await connection.query("""
                        UPDATE maintenance_runs SET last_finished_at = now(), details = jsonb_build_object('applications', \(total)::integer)
                        WHERE name = 'retention'
                        """)
                    logger.info("retention sweep done", ["applications": String(total)])
                    cleaned = total
                }
                _ = try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))")
                return cleaned
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))")
                throw error
            }
        }
    }

    /// Cleans up to `batchSize` due applications in one statement (atomic); returns how many.
    func sweepBatch(_ connection: PostgresConnection) async throws -> Int {
        try await ApplicationLifecycle.purgePersonalData(batchSize: batchSize, on: connection)
    }
}

/// Checks every `checkInterval` whether the day's retention sweep is due.
struct RetentionService: RuntimeService {
    let retention: Retention
    let checkInterval: Duration
    var name: String { "retention" }

    func run(shutdown: ShutdownSignal) async throws {
        while !shutdown.isTriggered {
            do {
                try await retention.runIfDue()
            } catch {
                retention.logger.error("retention sweep failed", ["error": String(describing: error)])
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await Task.sleep(for: checkInterval) }
                group.addTask { await shutdown.wait() }
                await group.next()
                group.cancelAll()
            }
        }
    }
}
