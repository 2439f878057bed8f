import FoundationEssentials
import Logging
import Postgres
import Synchronization

/// Writes `last_used_at` of caseworker tokens or intake client keys, off the request path.
///
/// Authentication calls ``record(_:)``, which only notes the id in memory (one lock, no I/O); a
/// background loop (``run(until:)``) writes the ids noted since its last round in one
/// `UPDATE … WHERE id = ANY(…)` every ``flushInterval``. Each credential is written at most once per
/// ``minimumInterval`` by a process (uses in between are not noted), so a busy key costs one
/// statement a minute, not one per request; `last_used_at` is therefore accurate to about that
/// interval. A failed write is logged and never reaches a request; its ids are forgotten, so their
/// next use tries again. On shutdown what is noted is written once more.
///
/// Memory is bounded: an id is remembered for ``minimumInterval`` after it was noted, and at most
/// ``maxTracked`` ids at a time (beyond that, uses of further credentials are not recorded until the
/// oldest are forgotten).
public final class CredentialUseRecorder: Sendable {
    /// Whose `last_used_at` this recorder writes.
    public enum Credential: String, Sendable {
        /// `caseworker_tokens`, by token id.
        case caseworkerToken = "caseworker-token"
        /// `intake_clients`, by client id (one key per client).
        case intakeClientKey = "intake-client-key"
    }

    public let credential: Credential
    /// A credential is written at most once per this interval by this process.
    public let minimumInterval: Duration
    /// How often the ids noted meanwhile are written.
    public let flushInterval: Duration
    /// Most ids remembered at once.
    public let maxTracked: Int

    private let pool: PostgresPool
    private let logger: Logger

    private struct State {
        /// When each id was last noted; entries older than `minimumInterval` no longer hold
        /// anything back and are dropped now and then.
        var noted: [UUID: ContinuousClock.Instant] = [:]
        /// Noted since the last write.
        var pending: [UUID] = []
        var lastPruned = ContinuousClock.now
        /// Uses not recorded because `maxTracked` ids were remembered.
        var skipped = 0
    }

    private let state = Mutex(State())

    public init(
        _ credential: Credential, pool: PostgresPool, logger: Logger,
        minimumInterval: Duration = .seconds(60), flushInterval: Duration = .seconds(1), maxTracked: Int = 100_000
    ) {
        self.credential = credential
        self.pool = pool
        self.logger = logger
        self.minimumInterval = minimumInterval
        self.flushInterval = flushInterval
        self.maxTracked = maxTracked
    }

    /// Notes a use of credential `id`: cheap, never waits for the database.
    public func record(_ id: UUID) {
        let now = ContinuousClock.now
        state.withLock { state in
            if let last = state.noted[id] {
                if now - last < minimumInterval { return }
            } else if state.noted.count >= maxTracked {
                state.skipped += 1
                return
            }
            state.noted[id] = now
            state.pending.append(id)
        }
    }

    /// Writes the ids noted since the last write, in one statement. Never throws: a failure is
    /// logged, and the ids are forgotten so that their next use tries again.
    public func flush() async {
        let now = ContinuousClock.now
        let (ids, skipped) = state.withLock { state -> ([UUID], Int) in
            if now - state.lastPruned >= minimumInterval {
                state.noted = state.noted.filter { now - $0.value < minimumInterval }
                state.lastPruned = now
            }
            defer { state.pending.removeAll(); state.skipped = 0 }
            return (state.pending, state.skipped)
        }
        if skipped > 0 {
            logger.warning("credential uses not recorded: too many credentials in use", [
                "credential": credential.rawValue, "skipped": String(skipped), "max_tracked": String(maxTracked),
            ])
        }
        guard !ids.isEmpty else { return }
        do {
            switch credential {
            case .caseworkerToken:
                try await pool.query("UPDATE caseworker_tokens SET last_used_at = now() WHERE id = ANY(\(ids)::uuid[])")
            case .intakeClientKey:
                try await pool.query("UPDATE intake_clients SET last_used_at = now() WHERE id = ANY(\(ids)::uuid[])")
            }
        } catch {
            state.withLock { state in
                for id in ids { state.noted.removeValue(forKey: id) }
            }
            logger.warning("recording the last use of credentials failed; their next use tries again", [
                "credential": credential.rawValue, "count": String(ids.count), "error": String(describing: error),
            ])
        }
    }

    /// Writes noted uses every ``flushInterval`` until `stop` returns, then once more.
    public func run(until stop: @escaping @Sendable () async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Cancellation ends the sleep, not a write in progress (the pool finishes it).
                while (try? await Task.sleep(for: self.flushInterval)) != nil {
                    await self.flush()
                }
            }
            await stop()
            group.cancelAll()
        }
        await flush()
    }
}
