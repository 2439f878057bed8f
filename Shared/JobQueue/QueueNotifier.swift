import FoundationEssentials
import Logging
import Postgres
import Synchronization

/// The process's one notifier: wakes queue consumers and long-polling inboxes after producers
/// commit, without making producers pay for NOTIFY. Channel names come from ``WakeChannel``.
///
/// A producer's transaction never runs NOTIFY itself (that would take PostgreSQL's global
/// notification lock at every commit). Instead its commit hook calls `wake(_:)`, and this notifier
/// sends at most one `pg_notify` statement at a time on its own connection, covering every queue
/// that was woken meanwhile, then pauses `minimumInterval`. Under load that is a few hundred
/// notifications a second whatever the insert rate; when idle, the first wake goes out at once.
/// A lost notification only delays a job until the consumers' fallback poll.
public final class QueueNotifier: Sendable {
    public struct Configuration: Sendable {
        /// Pause between two notification statements.
        public var minimumInterval: Duration
        /// When false, `wake` does nothing (consumers rely on their poll): for benchmarks.
        public var enabled: Bool

        public init(minimumInterval: Duration = .milliseconds(2), enabled: Bool = true) {
            self.minimumInterval = minimumInterval
            self.enabled = enabled
        }
    }

    private struct Notification: Hashable {
        var channel: String
        var payload: String
    }

    private struct State {
        var pending: Set<Notification> = []
        var sending = false
    }

    /// Notifications per statement at most.
    static let maxBatch = 1000
    private let pool: PostgresPool
    private let configuration: Configuration
    private let logger: Logger
    private let state = Mutex(State())
    private let sent = Atomic<Int>(0)

    /// `pool` should be a small pool of its own (one connection) so that notifications never wait
    /// behind the service's own work.
    public init(pool: PostgresPool, configuration: Configuration = .init(), logger: Logger) {
        self.pool = pool
        self.configuration = configuration
        self.logger = logger
    }

    /// Notification statements sent so far.
    public var statementsSent: Int { sent.load(ordering: .relaxed) }

    /// Asks for the consumers of `queue` to be woken.
    public func wake(_ queue: QueueName) {
        send(Notification(channel: WakeChannel.queue(queue), payload: ""))
    }

    /// Asks for the long-polls of `area`'s inboxes to be woken, naming `application`.
    public func wake(inboxOf area: UUID, application: UUID) {
        send(Notification(channel: WakeChannel.inbox(area: area), payload: application.uuidString.lowercased()))
    }

    private func send(_ notification: Notification) {
        guard configuration.enabled else { return }
        let start = state.withLock { state -> Bool in
            state.pending.insert(notification)
            if state.sending { return false }
            state.sending = true
            return true
        }
        if start { Task { await self.drain() } }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Notification] in
                let batch = Array(state.pending.prefix(Self.maxBatch))
                state.pending.subtract(batch)
                if batch.isEmpty { state.sending = false }
                return batch
            }
            if batch.isEmpty { return }
            do {
                try await pool.query(QueueSQL.notify(channels: batch.map(\.channel), payloads: batch.map(\.payload)))
                sent.add(1, ordering: .relaxed)
            } catch {
                logger.warning("queue notification failed; consumers will find the jobs by polling", ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.minimumInterval)
        }
    }
}

/// Names of the NOTIFY channels, in one place. A notification is only a hint to look again: a
/// lost one only delays.
public enum WakeChannel {
    /// Consumers of `queue` LISTEN here (payload empty).
    public static func queue(_ queue: QueueName) -> String { "queue." + queue.rawValue }
    /// Long-polling inboxes that show `area` LISTEN here (payload: the application's id).
    public static func inbox(area: UUID) -> String { "inbox." + area.uuidString.lowercased() }
}
