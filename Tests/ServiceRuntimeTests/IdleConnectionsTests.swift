import Foundation
import HTTPTestSupport
import Testing

/// 5,000 idle connections to a real service process, then a normal request must still be
/// answered promptly; the service's memory growth is measured on its own process.
@Suite struct IdleConnectionsTests {
    @Test func fiveThousandIdleConnectionsThenAPromptAnswer() async throws {
        try raiseOpenFileLimit(to: 12_000)
        try await FixtureProcess.with { fixture in
            let port = fixture.port
            let rssBefore = fixture.residentSetSizeKiB()
            try await offPool {
                let start = Date()
                let idle = try (0..<5_000).map { _ in try RawClient(port: port) }
                let opened = Date().timeIntervalSince(start)
                usleep(300_000)  // let the server accept them all
                let rssWithIdle = fixture.residentSetSizeKiB()

                let requestStart = Date()
                let client = try RawClient(port: port)
                try client.send("GET /slow/0 HTTP/1.1\r\nHost: t\r\n\r\n")
                let response = try client.readResponse()
                let latency = Date().timeIntervalSince(requestStart)
                #expect(response.status == 200)
                #expect(latency < 0.5, "answer took \(latency) s with 5,000 idle connections")

                let growthKiB = rssWithIdle - rssBefore
                print("5,000 idle connections: opened in \(String(format: "%.2f", opened)) s; service RSS \(rssBefore / 1024) → \(rssWithIdle / 1024) MiB "
                      + "(+\(growthKiB) KiB, ≈\(growthKiB * 1024 / 5_000) bytes per connection); request latency \(String(format: "%.1f", latency * 1000)) ms")
                #expect(growthKiB < 16 * 1024, "5,000 idle connections should cost the service well under 16 MiB")
                #expect(idle.count == 5_000)
            }
        }
    }
}
