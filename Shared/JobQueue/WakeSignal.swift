import Synchronization

/// A one-waiter wake-up: `signal()` wakes the current `wait`, or the next one if nobody waits.
final class WakeSignal: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, Never>
        var timer: Task<Void, Never>?
    }

    private struct State {
        var pending = false
        var waiter: Waiter?
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { state -> Waiter? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.timer?.cancel()
        waiter?.continuation.resume()
    }

    /// Returns when signalled or after `timeout`.
    func wait(timeout: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id = state.withLock { state -> UInt64? in
                if state.pending {
                    state.pending = false
                    return nil
                }
                state.nextID += 1
                state.waiter = Waiter(id: state.nextID, continuation: continuation)
                return state.nextID
            }
            guard let id else {
                continuation.resume()
                return
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if Task.isCancelled { return }
                let expired = self.state.withLock { state -> Waiter? in
                    guard let waiter = state.waiter, waiter.id == id else { return nil }
                    state.waiter = nil
                    return waiter
                }
                expired?.continuation.resume()
            }
            let stillWaiting = state.withLock { state -> Bool in
                guard state.waiter?.id == id else { return false }
                state.waiter?.timer = timer
                return true
            }
            if !stillWaiting { timer.cancel() }
        }
    }
}
