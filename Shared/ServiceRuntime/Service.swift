import Synchronization

/// A long-running part of a process: an HTTP server, a queue consumer, a maintenance loop.
public protocol Service: Sendable {
    /// Used in log lines.
    var name: String { get }

    /// Runs until the work is done or `shutdown` is triggered; then finishes or hands back
    /// in-flight work and returns. The task is cancelled only when the grace period is over.
    /// Returning (or throwing) before shutdown was triggered stops the whole process.
    func run(shutdown: ShutdownSignal) async throws
}

/// A one-way flag: "stop taking new work". Services wait on it or poll it.
public final class ShutdownSignal: Sendable {
    private struct State {
        var triggered = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public var isTriggered: Bool { state.withLock { $0.triggered } }

    /// Triggers the signal; every waiter resumes. Later calls do nothing.
    public func trigger() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.triggered else { return [] }
            state.triggered = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the signal is triggered, or when the calling task is cancelled.
    public func wait() async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.triggered || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
