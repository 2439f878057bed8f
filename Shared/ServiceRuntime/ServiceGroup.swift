#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// A service ended on its own before shutdown was asked for.
public struct ServiceExitedEarly: Error, Sendable, CustomStringConvertible {
    public var service: String
    public var description: String { "service \(service) stopped before shutdown was requested" }
}

/// Runs a process's services together and stops them all on SIGTERM or SIGINT.
///
/// On a signal (or when any service ends or fails on its own) the shared ``ShutdownSignal`` is
/// triggered and every service finishes its in-flight work; after `gracePeriod`, or at a second
/// signal, the remaining ones are cancelled. ``run()`` returns normally after a signal-initiated shutdown and throws
/// the first failure otherwise, so `main` can exit 0 or 1 accordingly.
public struct ServiceGroup: Sendable {
    private let services: [any Service]
    private let logger: Logger
    private let gracePeriod: Duration
    private let signals: [Int32]

    public init(services: [any Service], logger: Logger, gracePeriod: Duration = .seconds(25), signals: [Int32] = [SIGTERM, SIGINT]) {
        self.services = services
        self.logger = logger
        self.gracePeriod = gracePeriod
        self.signals = signals
    }

    private enum Outcome: Sendable {
        case finished(service: String, error: (any Error)?)
        case gracePeriodOver
    }

    public func run() async throws {
        let shutdown = ShutdownSignal()
        let impatience = ShutdownSignal()  // a second signal: stop waiting for in-flight work
        let signalWatcher = Task { [signals, logger] in
            for await signalNumber in SignalStream.make(signals) {
                if shutdown.isTriggered {
                    logger.warning("received \(SignalStream.name(signalNumber)) again; cancelling services now")
                    impatience.trigger()
                } else {
                    logger.info("received \(SignalStream.name(signalNumber)); shutting down")
                    shutdown.trigger()
                }
            }
        }
        defer { signalWatcher.cancel() }

        var firstFailure: (any Error)?
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            for service in services {
                group.addTask {
                    do {
                        try await service.run(shutdown: shutdown)
                        return .finished(service: service.name, error: nil)
                    } catch {
                        return .finished(service: service.name, error: error)
                    }
                }
            }
            group.addTask { [gracePeriod] in
                await shutdown.wait()
                await withTaskGroup(of: Void.self) { deadline in
                    deadline.addTask { try? await Task.sleep(for: gracePeriod) }
                    deadline.addTask { await impatience.wait() }
                    await deadline.next()
                    deadline.cancelAll()
                }
                return .gracePeriodOver
            }
            var running = services.count
            while running > 0, let outcome = try await group.next() {
                switch outcome {
                case .finished(let name, let error):
                    running -= 1
                    if let error, !(error is CancellationError && shutdown.isTriggered) {
                        logger.error("service failed", ["service": name, "error": String(describing: error)])
                        firstFailure = firstFailure ?? error
                    } else if !shutdown.isTriggered {
                        logger.error("service stopped before shutdown was requested", ["service": name])
                        firstFailure = firstFailure ?? ServiceExitedEarly(service: name)
                    } else {
                        logger.info("service stopped", ["service": name])
                    }
                    shutdown.trigger()
                case .gracePeriodOver:
                    logger.warning("cancelling remaining services", ["running": String(running)])
                    group.cancelAll()
                }
            }
            group.cancelAll()
        }
        if let firstFailure { throw firstFailure }
    }
}
