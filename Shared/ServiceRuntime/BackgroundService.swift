/// A ``Service`` made of a loop that runs until it is told to stop, for modules that do not
/// depend on ServiceRuntime (and so know no ``ShutdownSignal``):
///
/// ```swift
/// BackgroundService(name: "intake-key-use", run: recorder.run(until:))
/// ```
///
/// The loop gets a function that returns once shutdown is triggered; it should then finish
/// promptly (in-flight work may run until the grace period ends).
public struct BackgroundService: Service {
    public let name: String
    private let loop: @Sendable (_ untilShutdown: @escaping @Sendable () async -> Void) async throws -> Void

    public init(name: String, run loop: @escaping @Sendable (_ untilShutdown: @escaping @Sendable () async -> Void) async throws -> Void) {
        self.name = name
        self.loop = loop
    }

    public func run(shutdown: ShutdownSignal) async throws {
        try await loop { await shutdown.wait() }
    }
}
