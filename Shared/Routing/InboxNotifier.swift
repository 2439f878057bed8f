import FoundationEssentials
import Logging
import Postgres
import Synchronization

/// Wakes long-polling inboxes after an application lands in an area.
///
/// Contract for LISTENers (the inbox service): channel `inbox.<area id, lowercase>`, payload the
/// application's id. A notification is only a hint to look again; a lost one only delays.
///
/// Routing transactions never run NOTIFY themselves (that takes PostgreSQL's global notification
/// lock at commit, on every routed application). ``Routing`` registers ``wake(area:application:)``
/// as a commit hook; this notifier sends the pending notifications with one `pg_notify` statement
/// at a time on its own connection, then pauses `minimumInterval`, so under load many
/// applications share one statement (one commit, one lock) and notifications only ever name
/// committed assignments.
public final class InboxNotifier: Sendable {
    public struct Configuration: Sendable {
        public var minimumInterval: Duration
        /// Notifications per statement at most.
        public var maxBatch: Int
        public init(minimumInterval: Duration = .milliseconds(2), maxBatch: Int = 1000) {
            self.minimumInterval = minimumInterval
            self.maxBatch = max(maxBatch, 1)
        }
    }

    private struct State {
        var pending: [(channel: String, payload: String)] = []
        var sending = false
    }

    private let pool: PostgresPool
    private let configuration: Configuration
    private let logger: Logger
    private let state = Mutex(State())
    private let sent = Atomic<Int>(0)

    /// `pool` should be a small pool of its own (one connection).
    public init(pool: PostgresPool, configuration: Configuration = .init(), logger: Logger) {
        self.pool = pool
        self.configuration = configuration
        self.logger = logger
    }

    /// The channel the inbox LISTENs on for `area`.
    public static func channel(area: UUID) -> String { "inbox." + area.uuidString.lowercased() }

    /// Notification statements sent so far.
    public var statementsSent: Int { sent.load(ordering: .relaxed) }

    /// Queues a notification for `area` naming `application`; sends soon.
    public func wake(area: UUID, application: UUID) {
        let start = state.withLock { state -> Bool in
            state.pending.append((Self.channel(area: area), application.uuidString.lowercased()))
            if state.sending { return false }
            state.sending = true
            return true
        }
        if start { Task { await self.drain() } }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [(channel: String, payload: String)] in
                let batch = Array(state.pending.prefix(configuration.maxBatch))
                state.pending.removeFirst(batch.count)
                if batch.isEmpty { state.sending = false }
                return batch
            }
            if batch.isEmpty { return }
            do {
                try await pool.query("""
                    SELECT count(pg_notify(n.channel, n.payload)) FROM unnest(\(batch.map(\.channel))::text[], \(batch.map(\.payload))::text[]) AS n(channel, payload)
                    """)
                sent.add(1, ordering: .relaxed)
            } catch {
                logger.warning("inbox notification failed; inboxes see the application at their next poll", ["error": "\(error)", "count": String(batch.count)])
            }
            try? await Task.sleep(for: configuration.minimumInterval)
        }
    }
}
