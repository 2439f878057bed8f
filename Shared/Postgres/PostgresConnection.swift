import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// One database session, driven from async code. Every libpq call runs on the connection's own
/// thread. A connection is used by one task at a time (the pool guarantees it).
public final class PostgresConnection: Sendable {
    let raw: LibPQConnection
    private let thread: ConnectionThread

    private init(raw: LibPQConnection, thread: ConnectionThread) {
        self.raw = raw
        self.thread = thread
    }

    /// Opens a session on a new thread of its own.
    public static func connect(_ configuration: PostgresConfiguration) async throws -> PostgresConnection {
        let thread = ConnectionThread(name: "pg-\(configuration.applicationName)")
        do {
            let raw = try await thread.run { try LibPQConnection.connect(configuration) }
            return PostgresConnection(raw: raw, thread: thread)
        } catch {
            thread.stop()
            throw error
        }
    }

    /// Runs a parameterised statement and returns its rows.
    @discardableResult
    public func query(_ query: SQLQuery) async throws -> PostgresRows {
        let raw = self.raw
        return try await thread.run { try raw.execute(query) }
    }

    /// Runs a multi-statement script without parameters (migrations, transaction control).
    public func run(_ script: SQLScript) async throws {
        try await runScript(script.sql)
    }

    /// Runs SQL built at run time, for statements that take identifiers, which cannot be
    /// parameters (`CREATE DATABASE name`). Test and tooling use only; validate names first.
    @_spi(Unparameterised)
    public func runUnchecked(_ sql: String) async throws {
        try await runScript(sql)
    }

    func runScript(_ sql: String) async throws {
        let raw = self.raw
        try await thread.run { try raw.executeScript(sql) }
    }

    /// False once the session broke.
    public var isHealthy: Bool { raw.isHealthy }

    /// Whether the session is inside a transaction block. Read only while no statement runs.
    var isInTransaction: Bool { raw.inTransaction }

    /// Closes the session and ends its thread.
    public func close() async {
        let raw = self.raw
        _ = try? await thread.run { raw.close() }
        thread.stop()
    }

    /// For the pool: the session is idle; is it still usable? Non-blocking.
    func checkIdleHealth() -> Bool { raw.checkIdleHealth() }
}
