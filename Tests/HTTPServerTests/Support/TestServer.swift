import Foundation
import HTTPServer
import Logging
import Metrics
import HTTPTestSupport

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
