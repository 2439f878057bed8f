@_spi(Unparameterised) import Postgres

/// The database role the five services connect as (`DATABASE_URL`). It owns nothing: the schema
/// belongs to the role that migrates (`MIGRATION_DATABASE_URL`), so a service — or whoever takes
/// one over — cannot alter, drop or truncate a table, disable a trigger, or rewrite `audit_log`.
///
/// What it may do, granted by the migrator after every run (and by default privileges for every
/// table a later migration adds):
///
/// | objects | privileges |
/// |---|---|
/// | schema `public` | `USAGE` (no `CREATE`) |
/// | every table | `SELECT, INSERT, UPDATE, DELETE` (no `TRUNCATE`, `REFERENCES`, `TRIGGER`) |
/// | `audit_log` | `SELECT, INSERT` only: append-only by privilege, and by its trigger |
/// | `schema_migrations` | `SELECT` only (readiness reads it) |
/// | every sequence | `USAGE, SELECT` |
///
/// The deployment creates the role (`CREATE ROLE amtsweg_service LOGIN PASSWORD …`) before the
/// first migration; the migrator refuses a role that is missing, a superuser, a member of the
/// migrating role, or the owner of any table.
public struct ServiceRole: Sendable, Equatable, CustomStringConvertible {
    /// `DATABASE_SERVICE_ROLE` when unset.
    public static let standard = ServiceRole(validated: "amtsweg_service")

    public let name: String

    /// - Returns: nil unless `name` is a plain lower-case identifier (`[a-z_][a-z0-9_]*`, at most
    ///   63 bytes): it is written into GRANT statements, where identifiers cannot be parameters.
    public init?(_ name: String) {
        guard let first = name.utf8.first, first == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first),
              name.utf8.count <= 63,
              name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        self.name = name
    }

    private init(validated name: String) { self.name = name }

    public var description: String { name }

    /// Why the role cannot serve as the services' role, read by the migrating role.
    var inspection: SQLQuery {
        """
        SELECT r.rolsuper,
               pg_has_role(r.oid, current_user, 'MEMBER') AS is_member_of_owner,
               r.rolname = current_user AS is_current_user,
               (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relowner = r.oid AND n.nspname = 'public') AS owned_relations
          FROM pg_roles r WHERE r.rolname = \(name)
        """
    }

    /// The grants; idempotent. `role` is validated by ``init(_:)``, and quoted.
    var grants: String {
        let role = "\"\(name)\""
        return """
            REVOKE ALL ON SCHEMA public FROM \(role);
            GRANT USAGE ON SCHEMA public TO \(role);
            REVOKE ALL ON ALL TABLES IN SCHEMA public FROM \(role);
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \(role);
            REVOKE UPDATE, DELETE ON audit_log FROM \(role);
            REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM \(role);
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO \(role);
            ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO \(role);
            ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO \(role);
            """
    }

    /// Checks the role (see the type's documentation) and grants it its privileges, in the
    /// caller's session (the migrating role's).
    func grant(on connection: PostgresConnection) async throws {
        let rows = try await connection.query(inspection)
        guard let row = rows.first else { throw MigrationError(code: .serviceRoleMissing, role: name) }
        if try row.decode("rolsuper", as: Bool.self) || row.decode("is_current_user", as: Bool.self)
            || row.decode("is_member_of_owner", as: Bool.self) || row.decode("owned_relations", as: Int.self) > 0 {
            throw MigrationError(code: .serviceRoleUnsafe, role: name)
        }
        try await connection.runUnchecked(grants)
    }
}
