import Synchronization

/// Isolation level of a transaction.
public enum IsolationLevel: String, Sendable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
}

/// How `withTransaction` runs its body.
public struct TransactionOptions: Sendable {
    public var isolation: IsolationLevel
    public var readOnly: Bool
    /// Run the body again (on a fresh transaction) after a serialization failure or deadlock.
    public var retryOnConflict: Bool
    /// Attempts in all, when `retryOnConflict` is set.
    public var maxAttempts: Int

    public init(isolation: IsolationLevel = .readCommitted, readOnly: Bool = false, retryOnConflict: Bool = false, maxAttempts: Int = 5) {
        self.isolation = isolation
        self.readOnly = readOnly
        self.retryOnConflict = retryOnConflict
        self.maxAttempts = maxAttempts
    }

    var beginStatement: String {
        "BEGIN ISOLATION LEVEL \(isolation.rawValue)" + (readOnly ? " READ ONLY" : "")
    }
}

/// An open transaction handed to the body of `withTransaction`. Statements run on its connection;
/// work registered with `afterCommit` runs once the transaction has committed (and never if it
/// rolled back), e.g. waking consumers of a queue.
public final class Transaction: Sendable {
    public let connection: PostgresConnection
    private let commitHooks = Mutex<[@Sendable () -> Void]>([])

    init(connection: PostgresConnection) { self.connection = connection }

    @discardableResult
    public func query(_ query: SQLQuery) async throws -> PostgresRows {
        try await connection.query(query)
    }

    /// Registers work to run after a successful commit.
    public func afterCommit(_ hook: @escaping @Sendable () -> Void) {
        commitHooks.withLock { $0.append(hook) }
    }

    func runCommitHooks() {
        let hooks = commitHooks.withLock { hooks -> [@Sendable () -> Void] in
            defer { hooks.removeAll() }
            return hooks
        }
        for hook in hooks { hook() }
    }

    /// Runs `body` as one transaction on `connection`: commit on return, roll back on throw.
    static func run<T: Sendable>(
        on connection: PostgresConnection,
        options: TransactionOptions,
        _ body: (Transaction) async throws -> T
    ) async throws -> T {
        let transaction = Transaction(connection: connection)
        try await connection.runScript(options.beginStatement)
        let value: T
        do {
            value = try await body(transaction)
            try await connection.runScript("COMMIT")
        } catch {
            // ROLLBACK outside a transaction (COMMIT already failed) is a harmless warning.
            if connection.isHealthy { try? await connection.runScript("ROLLBACK") }
            throw error
        }
        transaction.runCommitHooks()
        return value
    }
}
