import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of threads of our own, each owning one piece of state only it touches (e.g. a libcurl
/// handle with its open connection), taking closures from one shared FIFO. Blocking C
/// calls run here, never on Swift's cooperative pool; async callers wait on a continuation.
public final class WorkerThreads<State>: Sendable {
    public typealias Work = @Sendable (State) -> Void

    private struct Queue {
        var work: [Work?] = []   // nil = stop one thread
        var head = 0
        var stopped = false
    }

    private let queue = Mutex(Queue())
    private let available = DispatchSemaphore(value: 0)
    public let count: Int

    /// Starts `count` threads; each calls `makeState` once on itself and `finish` when it stops.
    public init(count: Int, makeState: @escaping @Sendable () -> State, finish: @escaping @Sendable (State) -> Void) {
        self.count = max(1, count)
        for _ in 0..<self.count {
            let body = ThreadBody { [self] in
                let state = makeState()
                self.loop(state)
                finish(state)
            }
            var thread = pthread_t()
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            pthread_attr_setstacksize(&attributes, 512 * 1024)
            let raw = Unmanaged.passRetained(body).toOpaque()
            let result = pthread_create(&thread, &attributes, { raw in
                let body = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
                body.run()
                return nil
            }, raw)
            pthread_attr_destroy(&attributes)
            precondition(result == 0, "cannot start a worker thread (error \(result))")
            pthread_detach(thread)
        }
    }

    /// Runs `work` on one of the threads; nil once stopped.
    public func run<T: Sendable>(_ work: @escaping @Sendable (State) -> T) async -> T? {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            let accepted = queue.withLock { queue -> Bool in
                guard !queue.stopped else { return false }
                queue.work.append { state in continuation.resume(returning: work(state)) }
                return true
            }
            if accepted { available.signal() } else { continuation.resume(returning: nil) }
        }
    }

    /// Lets queued work finish, then ends every thread (running `finish` on its state).
    public func stop() {
        let alreadyStopped = queue.withLock { queue -> Bool in
            if queue.stopped { return true }
            queue.stopped = true
            for _ in 0..<count { queue.work.append(nil) }
            return false
        }
        if !alreadyStopped { for _ in 0..<count { available.signal() } }
    }

    private func loop(_ state: State) {
        while true {
            available.wait()
            let work = queue.withLock { queue -> Work?? in
                guard queue.head < queue.work.count else { return .none }
                let item = queue.work[queue.head]
                queue.head += 1
                if queue.head > 1024 && queue.head * 2 > queue.work.count {
                    queue.work.removeFirst(queue.head)
                    queue.head = 0
                }
                return .some(item)
            }
            guard let item = work else { continue }
            guard let item else { return }
            item(state)
        }
    }
}

private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
