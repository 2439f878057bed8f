import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// Limits and timing of a connection pool.
public struct PostgresPoolConfiguration: Sendable {
    /// Most sessions open at once.
    public var maxConnections: Int
    /// How long a caller waits for a free or new connection before `.poolTimeout`.
    public var acquireTimeout: Duration
    /// First pause after a failed connect; doubles up to `maxReconnectDelay`.
    public var initialReconnectDelay: Duration
    public var maxReconnectDelay: Duration

    public init(
        maxConnections: Int = 10,
        acquireTimeout: Duration = .seconds(15),
        initialReconnectDelay: Duration = .milliseconds(50),
        maxReconnectDelay: Duration = .seconds(2)
    ) {
        self.maxConnections = maxConnections
        self.acquireTimeout = acquireTimeout
        self.initialReconnectDelay = initialReconnectDelay
        self.maxReconnectDelay = maxReconnectDelay
    }
}

/// A bounded pool of sessions.
///
/// It never hands out a broken connection or one left inside a transaction: connections are
/// checked when returned and again (non-blocking) before reuse. When the server is away (restart),
/// callers wait while the pool reconnects with exponential backoff, up to `acquireTimeout`.
public final class PostgresPool: Sendable {
    public let configuration: PostgresConfiguration
    public let poolConfiguration: PostgresPoolConfiguration
    private let logger: Logger

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<PostgresConnection, Error>
    }

    private struct State {
        var idle: [PostgresConnection] = []
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        var closed = false
    }

    private let state = Mutex(State())

    public init(configuration: PostgresConfiguration, pool: PostgresPoolConfiguration = .init(), logger: Logger) {
        self.configuration = configuration
        self.poolConfiguration = pool
        self.logger = logger
    }

    // MARK: Scoped use

    /// Lends a connection to `body` and takes it back afterwards, whatever happens.
    public func withConnection<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await acquire()
        do {
            let value = try await body(connection)
            release(connection)
            return value
        } catch {
            release(connection)
            throw error
        }
    }

    /// Runs `body` in a transaction: commit when it returns, roll back when it throws. With
    /// `retryOnConflict`, serialization failures and deadlocks run the body again.
    public func withTransaction<T: Sendable>(
        _ options: TransactionOptions = .init(),
        _ body: (Transaction) async throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await withConnection { connection in
                    try await Transaction.run(on: connection, options: options, body)
                }
            } catch let error as PostgresError where options.retryOnConflict
                && (error.isSerializationFailure || error.isDeadlock) && attempt < options.maxAttempts {
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * attempt))))
            }
        }
    }

    /// Runs one statement on a pooled connection.
    @discardableResult
    public func query(_ query: SQLQuery) async throws -> PostgresRows {
        try await withConnection { try await $0.query(query) }
    }

    /// Whether the database answers (for `/readyz`).
    public func ping() async -> Bool {
        (try? await query("SELECT 1")) != nil
    }

    /// Closes idle connections and refuses new work; waiters get `.poolClosed`.
    public func close() async {
        let (idle, waiters) = state.withLock { state -> ([PostgresConnection], [Waiter]) in
            state.closed = true
            defer { state.idle.removeAll(); state.waiters.removeAll() }
            state.open -= state.idle.count
            return (state.idle, state.waiters)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: PostgresError(code: .poolClosed, message: "pool closed")) }
        for connection in idle { await connection.close() }
    }

    /// Connections open now (in use and idle).
    public var openConnections: Int { state.withLock { $0.open } }

    // MARK: Acquire and release

    private enum Next {
        case reuse(PostgresConnection)
        case create
        case wait(UInt64)
        case closed
    }

    func acquire() async throws -> PostgresConnection {
        let deadline = ContinuousClock.now + poolConfiguration.acquireTimeout
        while true {
            let next = state.withLock { state -> Next in
                if state.closed { return .closed }
                while let connection = state.idle.popLast() {
                    if connection.checkIdleHealth() { return .reuse(connection) }
                    state.open -= 1
                    let broken = connection
                    Task { await broken.close() }
                }
                if state.open < poolConfiguration.maxConnections {
                    state.open += 1
                    return .create
                }
                state.nextWaiterID += 1
                return .wait(state.nextWaiterID)
            }
            switch next {
            case .closed:
                throw PostgresError(code: .poolClosed, message: "pool closed")
            case .reuse(let connection):
                return connection
            case .create:
                return try await openConnection(until: deadline)
            case .wait(let id):
                return try await waitForConnection(id: id, until: deadline)
            }
        }
    }

    func release(_ connection: PostgresConnection) {
        // A borrower that left a transaction open (or broke the session) loses the connection.
        guard connection.isHealthy, !connection.isInTransaction else {
            discard(connection)
            return
        }
        let waiter = state.withLock { state -> Waiter? in
            if state.closed { return nil }
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.idle.append(connection)
            return nil
        }
        if let waiter {
            waiter.continuation.resume(returning: connection)
        } else if state.withLock({ $0.closed }) {
            discard(connection)
        }
    }

    /// Drops a broken connection; a waiter, if any, gets a fresh one instead.
    private func discard(_ connection: PostgresConnection) {
        let waiter = state.withLock { state -> Waiter? in
            if !state.closed, !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.open -= 1
            return nil
        }
        Task { await connection.close() }
        if let waiter {
            let deadline = ContinuousClock.now + poolConfiguration.acquireTimeout
            Task {
                do {
                    waiter.continuation.resume(returning: try await self.openConnection(until: deadline))
                } catch {
                    waiter.continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Opens a connection, retrying with exponential backoff until `deadline`. The slot was
    /// already counted in `open`; it is given back on failure.
    private func openConnection(until deadline: ContinuousClock.Instant) async throws -> PostgresConnection {
        var delay = poolConfiguration.initialReconnectDelay
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await PostgresConnection.connect(configuration)
            } catch let error as PostgresError {
                let now = ContinuousClock.now
                if now + delay >= deadline || state.withLock({ $0.closed }) || error.code == .invalidConfiguration {
                    state.withLock { $0.open -= 1 }
                    throw error
                }
                if attempt == 1 || attempt % 10 == 0 {
                    logger.warning("database connection failed; retrying", ["attempt": String(attempt), "error": error.description])
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, poolConfiguration.maxReconnectDelay)
            }
        }
    }

    private func waitForConnection(id: UInt64, until deadline: ContinuousClock.Instant) async throws -> PostgresConnection {
        let timeout = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            let expired = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            expired?.continuation.resume(throwing: PostgresError(code: .poolTimeout, message: "no database connection free within the acquire timeout"))
        }
        defer { timeout.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            let closed = state.withLock { state -> Bool in
                if state.closed { return true }
                state.waiters.append(Waiter(id: id, continuation: continuation))
                return false
            }
            if closed { continuation.resume(throwing: PostgresError(code: .poolClosed, message: "pool closed")) }
        }
    }
}
