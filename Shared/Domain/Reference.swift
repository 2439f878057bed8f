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
/// in a short statement of its own (autocommit), so no row lock is held across an intake
/// transaction: references stay unique under any number of concurrent posters and replicas, and
/// numbers of a block left unused (a rejected request after allocation, a restart) are gaps.
/// With `blockSize` 1 numbers follow the order of allocation exactly.
public final class ReferenceAllocator: Sendable {
    private struct Block { var next: Int64; var end: Int64 }  // next..<end
    private let pool: PostgresPool
    private let blockSize: Int
    private let blocks = Mutex<[BlockKey: Block]>([:])

    private struct BlockKey: Hashable { let tenant: UUID; let year: Int }

    public init(pool: PostgresPool, blockSize: Int = 1) {
        precondition(blockSize >= 1)
        self.pool = pool
        self.blockSize = blockSize
    }

    /// The next number for `tenant` in `year`.
    public func next(tenant: UUID, year: Int) async throws -> Int64 {
        let key = BlockKey(tenant: tenant, year: year)
        if let number = take(key) { return number }
        while true {
            let end = try await reserve(tenant: tenant, year: year, count: blockSize)
            let first = end - Int64(blockSize) + 1
            // Keep the rest of the block for later callers; another task may have stored one
            // meanwhile, in which case the older block is used up first and this one replaces it.
            blocks.withLock { $0[key] = Block(next: first + 1, end: end + 1) }
            return first
        }
    }

    private func take(_ key: BlockKey) -> Int64? {
        blocks.withLock { blocks in
            guard var block = blocks[key], block.next < block.end else { return nil }
            let number = block.next
            block.next += 1
            blocks[key] = block
            return number
        }
    }

    /// Reserves `count` numbers and returns the last of them.
    private func reserve(tenant: UUID, year: Int, count: Int) async throws -> Int64 {
        let rows = try await pool.query("""
            INSERT INTO reference_counters AS c (tenant_id, year, last_value) VALUES (\(tenant), \(year), \(count))
            ON CONFLICT (tenant_id, year) DO UPDATE SET last_value = c.last_value + \(count)
            RETURNING last_value
            """)
        return try rows[0].decode("last_value", as: Int64.self)
    }
}
