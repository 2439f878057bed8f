import Synchronization

/// Until when this process may still act on one claimed queue job: a deadline on the local
/// continuous clock, counted from when the claim (or its last renewal) was *sent*, less a margin.
/// The database counts the lease from when it ran the statement, which is later, so the deadline
/// falls before any other consumer can take the job over.
///
/// It is lost for good once it passes, or when a renewal finds the job no longer held (another
/// consumer claimed it, or the lease had run out by the database's clock). Code with outside
/// effects checks it at its point of no return — before the end of SMTP DATA, before an HTTP
/// request goes out — and gives up with ``LeaseLostError`` instead: a process that wakes from a
/// freeze (a VM pause, SIGSTOP) finds its old deadlines passed and leaves the jobs to their new
/// owner. A blocking call is not stopped by cancelling its task, so the check runs where the call
/// is (a libcurl callback, through ``cCheck``).
public final class LeaseDeadline: Sendable {
    private struct State {
        var until: ContinuousClock.Instant
        var lost = false
    }

    private let state: Mutex<State>

    public init(until: ContinuousClock.Instant) {
        state = Mutex(State(until: until))
    }

    /// True once the deadline passed or the lease was found lost; stays true.
    public var hasPassed: Bool {
        state.withLock { state in
            if !state.lost && ContinuousClock.now >= state.until { state.lost = true }
            return state.lost
        }
    }

    /// The lease was renewed by a statement sent at some instant: the new deadline (that instant
    /// plus the lease, less the margin). A deadline that already passed stays passed.
    public func renew(until: ContinuousClock.Instant) {
        state.withLock { state in
            if !state.lost && ContinuousClock.now >= state.until { state.lost = true }
            if !state.lost && until > state.until { state.until = until }
        }
    }

    /// The lease is no longer ours (a renewal did not find it).
    public func markLost() {
        state.withLock { $0.lost = true }
    }

    /// Throws ``LeaseLostError`` once the deadline passed.
    public func check() throws(LeaseLostError) {
        if hasPassed { throw LeaseLostError() }
    }

    /// For a C callback `int (*)(void *context)`: answers 1 once the deadline passed. Pass
    /// ``withCContext(_:)``'s pointer as the context.
    public static let cCheck: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { context in
        guard let context else { return 0 }
        return Unmanaged<LeaseDeadline>.fromOpaque(context).takeUnretainedValue().hasPassed ? 1 : 0
    }

    /// Runs `body` with an unretained pointer to this deadline, valid for the call.
    public func withCContext<T>(_ body: (UnsafeMutableRawPointer) -> T) -> T {
        withExtendedLifetime(self) { body(Unmanaged.passUnretained(self).toOpaque()) }
    }
}

/// A job's lease ran out or was taken by another consumer before the point of no return:
/// nothing was done, and the job belongs to someone else now. Code `lease_lost`.
public struct LeaseLostError: Error, Sendable, CustomStringConvertible {
    /// The stable code, for logs and metrics.
    public static let code = "lease_lost"

    public init() {}

    public var description: String { "\(Self.code): the job's lease ran out or was taken over before its point of no return; nothing was done" }
}
