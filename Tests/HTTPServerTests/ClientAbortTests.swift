import Foundation
import HTTPServer
import HTTPTestSupport
import Logging
import Metrics
import Synchronization
import Testing

/// A client that hangs up while its request is being handled cancels the handler. That is the
/// client's doing, not a server fault: no error-level line, no 500 in `http_requests_total`, a
/// count of its own.
@Suite struct ClientAbortTests {
    @Test func aHandlerCancelledBecauseItsClientLeftIsNeitherAnErrorNorA500() async throws {
        let sink = MemoryLogSink()
        let metrics = MetricsRegistry()
        let started = Flag()
        try await withServer(logSink: sink, metrics: metrics, router: { logger in
            var router = Router(logger: logger, metrics: metrics)
            router.get("/slow") { _ in
                started.set()
                try await Task.sleep(for: .seconds(30))
                return .text("too late")
            }
            return router
        }) { port in
            do {
                let client = try RawClient(port: port)
                try client.send("GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
                #expect(await eventually { started.isSet }, "the handler started")
                withExtendedLifetime(client) {}
            }  // the client's socket closes here, mid-request
            let counted = await eventually {
                await metrics.render().contains(#"http_requests_cancelled_total{method="GET",route="/slow"} 1"#)
            }
            let rendered = await metrics.render()
            #expect(counted, "\(rendered)")
        }
        let rendered = await metrics.render()
        #expect(!rendered.contains(#"status="500""#), "\(rendered)")
        let errors = sink.lines.filter { $0.contains(#""level":"error""#) }
        #expect(errors.isEmpty, "\(errors)")
        #expect(sink.lines.contains { $0.contains("client closed the connection") && $0.contains(#""route":"/slow""#) }, "\(sink.lines)")
    }
}

/// A flag a route handler raises and the test reads.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// Polls `condition` until it holds or `timeout` passes.
private func eventually(timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}
