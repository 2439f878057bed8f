import Foundation
import Logging
import Postgres
import Schema
import Testing
import TestSupport

/// The services' role (`DATABASE_URL`) owns nothing and holds only the privileges the migrator
/// grants it: it cannot rewrite the audit log or change the schema, whatever a service does.
@Suite struct ServiceRoleTests {
    /// A pool on `db` as the services' role.
    static func servicePool(_ db: TestDatabase) -> PostgresPool {
        PostgresPool(configuration: PostgresConfiguration(url: db.serviceURL, applicationName: "service-role-test"), pool: .init(maxConnections: 1), logger: db.logger)
    }

    /// The error of `sql` run as the services' role (it must fail).
    static func refusal(_ pool: PostgresPool, _ sql: SQLScript) async throws -> PostgresError {
        let error = try #require(await #expect(throws: PostgresError.self, "\(sql.sql)") { try await pool.withConnection { try await $0.run(sql) } })
        return error
    }

    @Test func theServicesRoleCannotRewriteTheAuditLogOrChangeTheSchema() async throws {
        let db = try await TestDatabase.make()
        let service = Self.servicePool(db)
        defer { Task { await service.close() } }
        // What the services do: append to the audit log and read it.
        try await service.query("INSERT INTO audit_log (actor_kind, action, object_kind) VALUES ('system', 'privilege.check', 'test')")
        #expect(try await service.query("SELECT count(*) AS n FROM audit_log").first?.decode("n", as: Int.self) == 1)

        // Refused by privilege, before the append-only trigger (which also answers 42501, with
        // its own constraint name) is reached: the trigger alone would not prove the role.
        for sql: SQLScript in [
            "UPDATE audit_log SET action = 'privilege.rewritten'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ] {
            let error = try await Self.refusal(service, sql)
            #expect(error.sqlState == "42501" && error.constraint == nil && error.message.contains("permission denied"), "\(sql.sql): \(error)")
        }
        // Only the owner may alter, disable a trigger of, or drop a table, or create one.
        for sql: SQLScript in [
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
            "ALTER TABLE audit_log DISABLE TRIGGER ALL",
            "DROP TABLE audit_log",
            "ALTER TABLE applications ADD COLUMN smuggled text",
            "ALTER TABLE queue_jobs DROP CONSTRAINT queue_jobs_pkey",
            "CREATE TABLE smuggled (id int)",
            "DROP FUNCTION audit_log_reject_change() CASCADE",
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'x', 'x')",
        ] {
            let error = try await Self.refusal(service, sql)
            #expect(error.sqlState == "42501", "\(sql.sql): \(error)")
        }
        let owner = try await Self.refusal(service, "SET ROLE postgres")
        #expect(owner.sqlState == "42501", "\(owner)")
        #expect(try await db.scalar("SELECT count(*) FROM audit_log", as: Int.self) == 1)
        #expect(try await db.scalar("SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'audit_log_append_only'", as: String.self) == "O")
    }

    @Test func defaultPrivilegesCoverTablesThatLaterMigrationsAdd() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let later = Migration(version: 10_000, name: "later_table", script: "CREATE TABLE later_table (id bigint GENERATED ALWAYS AS IDENTITY, note text)")
        try await Migrator(migrations: Migrations.all, logger: db.logger).migrate(db.pool)
        // A later build's migration, run by the owner: the services' role may use the new table
        // (and its sequence) without anyone granting anything by hand.
        let laterMigrator = Migrator(migrations: Migrations.all + [later], logger: db.logger)
        #expect(try await laterMigrator.migrate(db.pool) == [10_000])
        let service = Self.servicePool(db)
        defer { Task { await service.close() } }
        try await service.query("INSERT INTO later_table (note) VALUES ('from a service')")
        #expect(try await service.query("SELECT count(*) AS n FROM later_table").first?.decode("n", as: Int.self) == 1)
        let truncate = try await Self.refusal(service, "TRUNCATE later_table")
        #expect(truncate.sqlState == "42501", "\(truncate)")
    }

    @Test func theMigratorRefusesAMissingOrUnsafeServicesRole() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let nobody = try #require(ServiceRole("amtsweg_nobody")), postgres = try #require(ServiceRole("postgres"))
        let missing = try #require(await #expect(throws: MigrationError.self) {
            try await Migrator(serviceRole: nobody, logger: db.logger).migrate(db.pool)
        })
        #expect(missing.code == .serviceRoleMissing && missing.description.contains("amtsweg_nobody"), "\(missing)")
        let superuser = try #require(await #expect(throws: MigrationError.self) {
            try await Migrator(serviceRole: postgres, logger: db.logger).migrate(db.pool)
        })
        #expect(superuser.code == .serviceRoleUnsafe, "\(superuser)")
    }

    @Test func theServicesRoleCannotMigrate() async throws {
        let db = try await TestDatabase.make()
        let service = Self.servicePool(db)
        defer { Task { await service.close() } }
        // Even with nothing to apply, the services' role is told it is not the owner (GRANT by a
        // non-owner would only warn, so the run would otherwise look fine).
        let error = try #require(await #expect(throws: MigrationError.self) { try await Migrator(logger: db.logger).migrate(service) })
        #expect(error.code == .notOwner && error.description.contains("MIGRATION_DATABASE_URL"), "\(error)")
    }

    @Test func roleNamesAreIdentifiersOnly() {
        #expect(ServiceRole("amtsweg_service") == .standard)
        #expect(ServiceRole("svc_2")?.name == "svc_2")
        for bad in ["", "Amtsweg", "2svc", "svc-role", "svc\"; DROP TABLE audit_log; --", String(repeating: "a", count: 64)] {
            #expect(ServiceRole(bad) == nil, "\(bad)")
        }
    }
}
