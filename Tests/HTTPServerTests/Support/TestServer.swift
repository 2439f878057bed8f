import Foundation
import HTTPServer
import Logging
import Metrics

/// Configuration for tests: loopback, ephemeral port, short linger.
func testConfiguration(
    limits: HTTPServerLimits = HTTPServerLimits(),
    timeouts: HTTPServerTimeouts = HTTPServerTimeouts(lingeringClose: .milliseconds(500)),
    gracePeriod: Duration = .seconds(5)
) -> HTTPServerConfiguration {
    HTTPServerConfiguration(host: "127.0.0.1", port: 0, limits: limits, timeouts: timeouts, shutdownGracePeriod: gracePeriod)
}

/// A router with the routes most tests use.
func standardRouter(logger: Logger, metrics: MetricsRegistry? = nil) -> Router {
    var router = Router(logger: logger, metrics: metrics)
    router.get("/hello") { _ in .text("hello") }
    router.post("/echo") { context in
        HTTPResponse(status: .ok, headers: ["Content-Type": "application/octet-stream"], body: context.request.body)
    }
    router.post("/small", bodyLimit: 10) { context in .text("got \(context.request.body.count)") }
    router.post("/large", bodyLimit: 3 << 20) { context in .text("got \(context.request.body.count)") }
    router.get("/path/:name") { context in .text(try context.parameter("name")) }
    router.get("/sleep/:ms") { context in
        try await Task.sleep(for: .milliseconds(try context.intParameter("ms")))
        return .text("slept \(try context.parameter("ms"))")
    }
    return router
}

/// Starts a server on an ephemeral port, runs `body` with the port, then shuts it down.
func withServer<T: Sendable>(
    configuration: HTTPServerConfiguration = testConfiguration(),
    logSink: MemoryLogSink = MemoryLogSink(),
    metrics: MetricsRegistry? = nil,
    router: ((Logger) -> Router)? = nil,
    _ body: (Int) async throws -> T
) async throws -> T {
    let logger = Logger(service: "http-test", minimumLevel: .debug, sink: logSink)
    let responder = router?(logger) ?? standardRouter(logger: logger, metrics: metrics)
    return try await HTTPServer.withRunningServer(configuration: configuration, logger: logger, metrics: metrics, responder: responder) { server in
        try await body(server.port!)
    }
}

/// Runs an executable and collects its output, off the cooperative pool.
func runProcess(_ executable: String, _ arguments: [String], input: String? = nil) async throws -> (status: Int32, stdout: String, stderr: String) {
    try await offPool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try inPipe.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}

/// `/usr/bin/env`-style lookup of a tool on PATH.
func toolPath(_ name: String) -> String {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return "/usr/bin/\(name)"
}
