import FoundationEssentials
import Postgres
import Synchronization

/// Human-readable application references (Vorgangsnummern): `<PREFIX>-<YEAR>-<NUMBER>`, the
/// number at least six digits, e.g. `ERK-2026-000123`. Unique per tenant; counted per tenant and
/// year in `reference_counters`.
public enum Reference {
    public static func format(prefix: String, year: Int, number: Int64) -> String {
        let digits = String(number)
        return "\(prefix)-\(year)-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// Whether `prefix` is allowed by the schema (`^[A-Z][A-Z0-9]{1,9}$`).
    public static func isValidPrefix(_ prefix: String) -> Bool {
        let bytes = Array(prefix.utf8)
        guard (2...10).contains(bytes.count), (65...90).contains(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { (65...90).contains($0) || (48...57).contains($0) }
    }
}

/// Hands out reference numbers. Numbers are reserved from `reference_counters` in blocks, each
/// in a short statement of its own, so no row lock is held across an intake transaction: references stay unique under any number of concurrent posters and replicas, and
/// numbers of a block left unused (a rejected request after allocation, a restart) are gaps.
/// With `blockSize` 1 numbers follow the order of allocation exactly.
public final class ReferenceAllocator: Sendable {
    private struct Block { var next: Int64; var end: Int64 }  // next..<end
    private struct BlockKey: Hashable { let tenant: UUID; let year: Int }
    private let pool: PostgresPool
    private let blockSize: Int
    /// Reserved, not yet used numbers; concurrent reservations each add a block, none is dropped.
    private let blocks = Mutex<[BlockKey: [Block]]>([:])

    public init(pool: PostgresPool, blockSize: Int = 1) {
        precondition(blockSize >= 1)
        self.pool = pool
        self.blockSize = blockSize
    }

    /// The next number for `tenant` in `year`.
    public func next(tenant: UUID, year: Int) async throws -> Int64 {
        let key = BlockKey(tenant: tenant, year: year)
        if let number = take(key) { return number }
        let last = try await reserve(tenant: tenant, year: year, count: blockSize)
        let first = last - Int64(blockSize) + 1
        if blockSize > 1 {
            blocks.withLock { $0[key, default: []].append(Block(next: first + 1, end: last + 1)) }
        }
        return first
    }

    private func take(_ key: BlockKey) -> Int64? {
        blocks.withLock { blocks in
            guard var list = blocks[key], !list.isEmpty else { return nil }
            let number = list[0].next
            list[0].next += 1
            if list[0].next == list[0].end { list.removeFirst() }
            blocks[key] = list.isEmpty ? nil : list
            return number
        }
    }

    /// Reserves `count` numbers and returns the last of them.
    ///
    /// The counter's commit does not wait for the WAL flush (`synchronous_commit = off`), so the
    /// row lock that serialises all posters of a tenant is held for microseconds, not for an
    /// fsync. This is safe: any application using a number commits later, durably, and its flush
    /// covers the counter's earlier WAL record; if the server crashes before that, the counter
    /// may fall back, but only over numbers no committed application carries.
    private func reserve(tenant: UUID, year: Int, count: Int) async throws -> Int64 {
        // One statement, one implicit transaction: `set_config(…, true)` holds until its commit
        // (checked: pg_stat_wal.wal_sync does not grow with these statements).
        let rows = try await pool.query("""
            WITH async AS (SELECT set_config('synchronous_commit', 'off', true) AS setting)
            INSERT INTO reference_counters AS c (tenant_id, year, last_value)
            SELECT \(tenant), \(year), \(count) FROM async
            ON CONFLICT (tenant_id, year) DO UPDATE SET last_value = c.last_value + \(count)
            RETURNING last_value
            """)
        return try rows[0].decode("last_value", as: Int64.self)
    }
}
