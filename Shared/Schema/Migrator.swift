import Logging
import Postgres

/// Errors of applying or checking the schema.
public struct MigrationError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// An applied migration's script differs from the one in this build.
        case checksumMismatch = "checksum_mismatch"
        /// The database has migrations this build does not know (it is older than the schema).
        case unknownMigration = "unknown_migration"
        /// The services' role (`DATABASE_SERVICE_ROLE`) does not exist.
        case serviceRoleMissing = "service_role_missing"
        /// The services' role is a superuser, the migrating role itself or a member of it, or
        /// owns tables: privileges would not bind it.
        case serviceRoleUnsafe = "service_role_unsafe"
        /// The migrating role may not change the schema (the services' role was given).
        case notOwner = "not_owner"
    }

    public let code: Code
    public let version: Int?
    public let role: String?

    public init(code: Code, version: Int) {
        self.code = code
        self.version = version
        role = nil
    }

    public init(code: Code, role: String) {
        self.code = code
        version = nil
        self.role = role
    }

    public var description: String {
        switch code {
        case .checksumMismatch, .unknownMigration:
            "MigrationError(\(code.rawValue), version: \(version ?? 0))"
        case .serviceRoleMissing:
            "MigrationError(\(code.rawValue)): the services' role \(role ?? "") does not exist; create it first (CREATE ROLE \(role ?? "") LOGIN PASSWORD '…') or name another in DATABASE_SERVICE_ROLE"
        case .serviceRoleUnsafe:
            "MigrationError(\(code.rawValue)): the services' role \(role ?? "") is a superuser, the migrating role or a member of it, or owns tables; the services need a role of their own that owns nothing (see README, \"Database roles\")"
        case .notOwner:
            "MigrationError(\(code.rawValue)): the role \(role ?? "") may not change the schema; migrate with the owner's URL (MIGRATION_DATABASE_URL)"
        }
    }
}

/// Where the schema stands compared with this build.
public struct SchemaStatus: Sendable, Equatable {
    public var appliedVersions: [Int]
    public var latestKnownVersion: Int
    /// Every migration of this build is applied (and nothing unknown is).
    public var isCurrent: Bool
}

/// Applies migrations once each, under an advisory lock, so five services starting at once do
/// not race: the first applies them, the others wait and then find nothing to do.
public struct Migrator: Sendable {
    /// Key of the session advisory lock held while migrating ("amtsweg" as ASCII).
    static let advisoryLockKey: Int64 = 0x616D_7473_7765_67

    public let migrations: [Migration]
    /// Granted its privileges after every run (``ServiceRole``).
    public let serviceRole: ServiceRole
    private let logger: Logger

    public init(migrations: [Migration] = Migrations.all, serviceRole: ServiceRole = .standard, logger: Logger) {
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.serviceRole = serviceRole
        self.logger = logger
    }

    /// Applies what is missing, then grants the services' role its privileges (every time: a
    /// role made after the last migration gets them too); returns the versions it applied.
    /// Run it as the schema's owner.
    @discardableResult
    public func migrate(_ pool: PostgresPool) async throws -> [Int] {
        try await pool.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.advisoryLockKey))")
            do {
                let applied = try await migrateLocked(connection)
                try await serviceRole.grant(on: connection)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))")
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))")
                throw error
            }
        }
    }

    /// ``migrate(_:)`` on a connection of its own to `url` (the owner's), closed afterwards.
    @discardableResult
    public func migrate(url: String, applicationName: String) async throws -> [Int] {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, applicationName: applicationName), pool: .init(maxConnections: 1), logger: logger)
        do {
            let applied = try await migrate(pool)
            await pool.close()
            return applied
        } catch {
            await pool.close()
            throw error
        }
    }

    /// Reads the applied versions without changing anything (for `/readyz`).
    public func status(_ pool: PostgresPool) async throws -> SchemaStatus {
        let applied: [Int]
        do {
            applied = try await pool.query(Self.selectApplied).map { try $0.decode("version", as: Int.self) }
        } catch let error as PostgresError where error.sqlState == "42P01" {
            applied = []  // no schema_migrations table yet
        }
        let known = Set(migrations.map(\.version))
        let latest = migrations.last?.version ?? 0
        return SchemaStatus(
            appliedVersions: applied,
            latestKnownVersion: latest,
            isCurrent: known.isSubset(of: Set(applied)) && Set(applied).isSubset(of: known)
        )
    }

    private func migrateLocked(_ connection: PostgresConnection) async throws -> [Int] {
        // A role that may not change the schema would fail at the first new migration, but a
        // current schema needs none: GRANT by a non-owner only warns. So ask first.
        if let row = try await connection.query(Self.selectOwnership).first, !(try row.decode("may_change", as: Bool.self)) {
            throw MigrationError(code: .notOwner, role: try row.decode("role", as: String.self))
        }
        try await connection.run(Self.createMigrationsTable)
        let rows = try await connection.query("SELECT version, checksum FROM schema_migrations ORDER BY version")
        var appliedChecksums: [Int: String] = [:]
        for row in rows { appliedChecksums[try row.decode("version")] = try row.decode("checksum", as: String.self) }
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for version in appliedChecksums.keys.sorted() where known[version] == nil {
            throw MigrationError(code: .unknownMigration, version: version)
        }
        var appliedNow: [Int] = []
        for migration in migrations {
            if let checksum = appliedChecksums[migration.version] {
                guard checksum == migration.checksum else {
                    throw MigrationError(code: .checksumMismatch, version: migration.version)
                }
                continue
            }
            let started = ContinuousClock.now
            try await connection.run("BEGIN")
            do {
                try await connection.run(migration.script)
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(migration.checksum))"
                )
                try await connection.run("COMMIT")
            } catch {
                try? await connection.run("ROLLBACK")
                throw error
            }
            logger.info("applied migration", [
                "version": String(migration.version), "name": migration.name,
                "duration_ms": String(format: (ContinuousClock.now - started)),
            ])
            appliedNow.append(migration.version)
        }
        return appliedNow
    }

    static let createMigrationsTable: SQLScript = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """

    /// Whether the session's role owns the schema (or may create it in an empty database).
    static let selectOwnership: SQLQuery = """
        SELECT current_user AS role,
               coalesce((SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = to_regclass('public.audit_log')),
                        has_schema_privilege('public', 'CREATE')) AS may_change
        """

    static let selectApplied: SQLQuery = "SELECT version FROM schema_migrations ORDER BY version"
}

private func String(format duration: Duration) -> String {
    let milliseconds = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    return String(Int(milliseconds.rounded()))
}
