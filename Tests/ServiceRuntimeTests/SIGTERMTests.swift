import Foundation
import HTTPTestSupport
import Testing

/// The real runtime in a separate process: SIGTERM while a slow request is in flight.
@Suite struct SIGTERMTests {
    @Test func sigtermLetsTheSlowRequestFinishRefusesNewConnectionsAndExitsZero() async throws {
        try await FixtureProcess.with(environment: ["SHUTDOWN_GRACE_SECONDS": "6"]) { fixture in
            let port = fixture.port

            async let slow = offPool {
                let client = try RawClient(port: port, receiveTimeout: 10)
                try client.send("GET /slow/1500 HTTP/1.1\r\nHost: t\r\n\r\n")
                return try client.readResponse()
            }
            try await Task.sleep(for: .milliseconds(300))
            let signalledAt = ContinuousClock.now
            kill(fixture.process.processIdentifier, SIGTERM)
            try await Task.sleep(for: .milliseconds(300))

            #expect(throws: RawClient.Failure.self, "new connections must be refused after SIGTERM") {
                try RawClient(port: port)
            }
            let response = try await slow
            #expect(response.status == 200)
            #expect(response.bodyText == "finished after 1500 ms")
            #expect(response.header("Connection") == "close")

            #expect(try await fixture.waitForExit(within: 6), "the process must exit within the grace period")
            #expect(fixture.process.terminationReason == .exit)
            #expect(fixture.process.terminationStatus == 0)
            #expect(ContinuousClock.now - signalledAt < .seconds(6))
            let rest = try await fixture.remainingOutput()
            #expect(rest.contains("received SIGTERM"))
            #expect(rest.contains("\"stopped\""))
        }
    }
}
