import Foundation
import Logging
import Postgres
import Synchronization

/// A fresh, migrated database of its own for one test, with a pool on it.
public struct TestDatabase: Sendable {
    public let url: String
    public let pool: PostgresPool
    public let logger: Logger
    public let server: PostgresTestServer

    /// A new database on the shared test server (or on `server` when given).
    public static func make(
        on server: PostgresTestServer? = nil, maxConnections: Int = 10, migrated: Bool = true,
        logSink: (any LogSink)? = nil
    ) async throws -> TestDatabase {
        let server = if let server { server } else { try await PostgresTestServer.shared() }
        let url = try await server.makeDatabase(migrated: migrated)
        let logger = logSink.map { Logger(service: "test", minimumLevel: .debug, sink: $0) } ?? Logger(service: "test", minimumLevel: .warning)
        let pool = PostgresPool(
            configuration: PostgresConfiguration(url: url, applicationName: "test"),
            pool: PostgresPoolConfiguration(maxConnections: maxConnections), logger: logger
        )
        return TestDatabase(url: url, pool: pool, logger: logger, server: server)
    }

    public var configuration: PostgresConfiguration { PostgresConfiguration(url: url, applicationName: "test") }

    /// The database's URL for the services' role, which owns nothing (``url`` is the owner's).
    public var serviceURL: String { server.serviceURL(of: url) }

    /// A scalar from a one-row, one-column query.
    public func scalar<T: PostgresDecodable>(_ query: SQLQuery, as type: T.Type = T.self) async throws -> T {
        let rows = try await pool.query(query)
        guard let row = rows.first else { throw TestServerError("query returned no rows") }
        return try row.decode(at: 0, as: T.self)
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// A counter tasks can share in tests.
public final class SharedCounter: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    @discardableResult
    public func add(_ amount: Int = 1) -> Int { value.add(amount, ordering: .relaxed).newValue }
    public func raiseTo(_ candidate: Int) { _ = value.max(candidate, ordering: .relaxed) }
    public var current: Int { value.load(ordering: .relaxed) }
}
