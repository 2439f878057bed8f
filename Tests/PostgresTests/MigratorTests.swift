import Foundation
import Logging
import Postgres
import Schema
import Testing
import TestSupport

@Suite struct MigratorTests {
    @Test func fiveServicesMigratingAtOnceApplyEachMigrationOnce() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let logger = Logger(service: "test", minimumLevel: .error)
        let before = try await Migrator(logger: logger).status(db.pool)
        #expect(!before.isCurrent)
        #expect(before.appliedVersions.isEmpty)
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<5 {
                group.addTask {
                    let pool = PostgresPool(configuration: db.configuration, pool: .init(maxConnections: 1), logger: logger)
                    defer { Task { await pool.close() } }
                    return try await Migrator(logger: logger).migrate(pool)
                }
            }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        #expect(applied.sorted() == Migrations.all.map(\.version).sorted())
        let status = try await Migrator(logger: logger).status(db.pool)
        #expect(status.isCurrent)
        #expect(try await db.scalar("SELECT count(*)::int FROM schema_migrations", as: Int.self) == Migrations.all.count)
    }

    @Test func anEditedAppliedMigrationIsRefused() async throws {
        let db = try await TestDatabase.make()
        let logger = Logger(service: "test", minimumLevel: .error)
        let edited = Migrations.all.map { migration in
            migration.version == 1 ? Migration(version: 1, name: migration.name, script: "SELECT 1") : migration
        }
        do {
            try await Migrator(migrations: edited, logger: logger).migrate(db.pool)
            Issue.record("an edited migration was accepted")
        } catch let error as MigrationError {
            #expect(error.code == .checksumMismatch)
            #expect(error.version == 1)
        }
    }

    @Test func aDatabaseAheadOfThisBuildIsNotCurrent() async throws {
        let db = try await TestDatabase.make()
        let logger = Logger(service: "test", minimumLevel: .error)
        try await db.pool.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')")
        #expect(try await !Migrator(logger: logger).status(db.pool).isCurrent)
        await #expect(throws: MigrationError.self) { try await Migrator(logger: logger).migrate(db.pool) }
    }
}
