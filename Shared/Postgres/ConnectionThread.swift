import Threads
import Dispatch
import Synchronization

/// A thread of our own that runs blocking work (libpq calls) one closure at a time, so that no
/// blocking C call ever runs on Swift's cooperative thread pool. Async callers hop over with
/// `run {}` and are resumed when the work is done.
final class ConnectionThread: Sendable {
    private struct State {
        var work: [@Sendable () -> Void] = []
        var stopped = false
    }

    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)

    init(name: String) {
        startOwnThread { [self] in self.loop() }
    }

    /// Runs `body` on this thread and returns its result to the awaiting task.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let accepted = submit {
                continuation.resume(with: Result { try body() })
            }
            if !accepted {
                continuation.resume(throwing: PostgresError(code: .connectionLost, message: "connection thread stopped"))
            }
        }
    }

    /// Queues `work`; returns false when the thread has stopped.
    @discardableResult
    func submit(_ work: @escaping @Sendable () -> Void) -> Bool {
        let accepted = state.withLock { state -> Bool in
            if state.stopped { return false }
            state.work.append(work)
            return true
        }
        if accepted { wakeup.signal() }
        return accepted
    }

    /// Lets queued work finish, then ends the thread.
    func stop() {
        state.withLock { $0.stopped = true }
        wakeup.signal()
    }

    private func loop() {
        while true {
            wakeup.wait()
            let (batch, stopped) = state.withLock { state -> ([@Sendable () -> Void], Bool) in
                let batch = state.work
                state.work.removeAll(keepingCapacity: true)
                return (batch, state.stopped)
            }
            for work in batch { work() }
            if stopped && state.withLock({ $0.work.isEmpty }) { return }
        }
    }
}
