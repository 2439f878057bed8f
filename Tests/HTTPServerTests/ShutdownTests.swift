import Foundation
import HTTPServer
import HTTPTestSupport
import Logging
import Synchronization
import Testing

@Suite struct ShutdownTests {
    @Test func shutdownFinishesInFlightRequestsAndRefusesNewConnections() async throws {
        let logger = Logger(service: "http-test", sink: MemoryLogSink())
        let server = HTTPServer(configuration: testConfiguration(), logger: logger, responder: standardRouter(logger: logger))
        try server.start()
        let port = try #require(server.port)

        async let slow = request(port: port, "GET /sleep/400 HTTP/1.1\r\nHost: t\r\n\r\n")
        // An idle keep-alive connection: it must be closed as soon as shutdown begins.
        async let idleClosed = offPool {
            let client = try RawClient(port: port, receiveTimeout: 3)
            try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            _ = try client.readResponse()
            return client.isClosedByServer()
        }
        try await Task.sleep(for: .milliseconds(100))
        let started = ContinuousClock.now
        async let stopped: Void = server.shutdown()
        try await Task.sleep(for: .milliseconds(100))

        #expect(throws: RawClient.Failure.self) { try RawClient(port: port) }  // refused: not listening any more
        #expect(try await idleClosed)
        let response = try await slow
        #expect(response.status == 200)
        #expect(response.bodyText == "slept 400")
        #expect(response.header("Connection") == "close")
        await stopped
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test func shutdownCutsRequestsThatOutlastTheGracePeriod() async throws {
        let logger = Logger(service: "http-test", sink: MemoryLogSink())
        let configuration = testConfiguration(gracePeriod: .milliseconds(300))
        let server = HTTPServer(configuration: configuration, logger: logger, responder: standardRouter(logger: logger))
        try server.start()
        let port = try #require(server.port)
        async let slow = try? request(port: port, "GET /sleep/5000 HTTP/1.1\r\nHost: t\r\n\r\n")
        try await Task.sleep(for: .milliseconds(100))
        let started = ContinuousClock.now
        await server.shutdown()
        #expect(ContinuousClock.now - started < .seconds(1.5))
        #expect(await slow == nil)
    }
}

@Suite struct HandlerCancellationTests {
    final class Observed: Sendable {
        let cancelled = Mutex(false)
    }

    @Test func clientLeavingCancelsItsLongPoll() async throws {
        let observed = Observed()
        try await withServer(router: { logger in
            var router = Router(logger: logger)
            router.get("/long-poll") { _ in
                do {
                    try await Task.sleep(for: .seconds(60))
                } catch {
                    observed.cancelled.withLock { $0 = true }
                }
                return .text("done")
            }
            return router
        }) { port in
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("GET /long-poll HTTP/1.1\r\nHost: t\r\n\r\n")
                usleep(100_000)
                // the client goes away (RawClient closes in deinit)
            }
            let deadline = ContinuousClock.now + .seconds(2)
            while !observed.cancelled.withLock({ $0 }) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(observed.cancelled.withLock { $0 })
        }
    }
}
