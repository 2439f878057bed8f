import Foundation

/// A built service executable (`intake`, `inbox`, …) on an ephemeral loopback port, started with
/// `DATABASE_URL` and stopped when the scope ends. Waits for the runtime's "http server
/// listening" log line to learn the port, then keeps draining the log.
public final class ServiceProcess: @unchecked Sendable {
    public let process = Process()
    public let port: Int

    /// Starts `product`, runs `body`, then stops it (SIGTERM, SIGKILL after 15 s). With
    /// `requireCleanExit`, a process that did not exit on SIGTERM fails the call.
    public static func with<T: Sendable>(
        product: String, databaseURL: String, environment: [String: String] = [:], requireCleanExit: Bool = false,
        _ body: (ServiceProcess) async throws -> T
    ) async throws -> T {
        let service = try await ServiceProcess(product: product, databaseURL: databaseURL, environment: environment)
        let result: T
        do {
            result = try await body(service)
        } catch {
            service.stop()
            throw error
        }
        if !service.stop() && requireCleanExit {
            throw RawClient.Failure(description: "\(product) did not exit within 15 s of SIGTERM")
        }
        return result
    }

    private init(product: String, databaseURL: String, environment: [String: String]) async throws {
        process.executableURL = URL(fileURLWithPath: try builtProduct(product))
        process.environment = ["HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0", "DATABASE_URL": databaseURL, "LOG_LEVEL": "info"]
            .merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let reader = LineReader(output.fileHandleForReading)
        port = try await offPool {
            while let line = reader.nextLine() {
                if line.contains("\"http server listening\""),
                   let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   let port = Int(object["port"] as? String ?? "") {
                    return port
                }
            }
            throw RawClient.Failure(description: "\(product) exited before listening")
        }
        // Keep draining the log so the process never blocks on a full pipe.
        output.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
    }

    /// SIGTERM, then up to 15 s for a clean exit; SIGKILL after that. Returns whether it exited on SIGTERM.
    @discardableResult
    public func stop() -> Bool {
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        let clean = !process.isRunning
        if !clean { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return clean
    }
}
