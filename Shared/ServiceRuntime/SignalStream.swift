import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process signals as an async sequence. The handlers are built here, in a nonisolated
/// function, so they are never main-actor isolated even when the caller is top-level code in
/// `main.swift` (a main-actor closure called from Dispatch would trap).
enum SignalStream {
    static func make(_ signals: [Int32]) -> AsyncStream<Int32> {
        AsyncStream { continuation in
            let sources = signals.map { signalNumber -> any DispatchSourceSignal in
                #if canImport(Darwin)
                signal(signalNumber, SIG_IGN)  // kqueue still reports ignored signals; the default action must not run
                #endif
                // On Linux, Dispatch installs its own handler when the source is resumed; setting
                // SIG_IGN there would make the kernel discard the signal before Dispatch sees it.
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
                source.setEventHandler { continuation.yield(signalNumber) }
                source.resume()
                return source
            }
            let owned = SignalSources(sources: sources)
            continuation.onTermination = { _ in owned.cancel() }
        }
    }

    static func name(_ signalNumber: Int32) -> String {
        switch signalNumber {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGHUP: "SIGHUP"
        default: "signal \(signalNumber)"
        }
    }
}

/// Keeps the signal sources alive for the stream's lifetime. `@unchecked Sendable`: Dispatch
/// sources are thread-safe and the array is never mutated after creation.
private final class SignalSources: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    init(sources: [any DispatchSourceSignal]) { self.sources = sources }
    func cancel() { for source in sources { source.cancel() } }
}
