import Postgres

/// One step of the schema. Applied once, in `version` order, never edited after it shipped:
/// later changes are new migrations. The checksum of applied ones is checked at every start.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let script: SQLScript

    public init(version: Int, name: String, script: SQLScript) {
        self.version = version
        self.name = name
        self.script = script
    }

    /// FNV-1a 64 of the script text: detects an edited migration.
    public var checksum: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in script.sql.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

/// Every migration of Amtsweg, in order. Add new ones at the end.
public enum Migrations {
    public static let all: [Migration] = [
        M0001JobQueue.migration,
        M0002Domain.migration,
        M0003PostalCodeRanges.migration,
        M0004Inbox.migration,
        M0005QueueVacuum.migration,
        M0006RedundantTenantKeys.migration,
        M0007ReplyIssues.migration,
    ]

    public static var latestVersion: Int { all.map(\.version).max() ?? 0 }
}
