import Foundation
import HTTPServer
import HTTPTestSupport
import Testing

@Suite struct SlowClientAndCapacityTests {
    @Test func slowlorisIsCutOffAtTheHeaderTimeoutWhileOthersAreServed() async throws {
        let timeouts = HTTPServerTimeouts(requestHead: .seconds(1), lingeringClose: .milliseconds(200))
        try await withServer(configuration: testConfiguration(timeouts: timeouts)) { port in
            async let slowloris: (status: Int?, seconds: Double) = offPool {
                let client = try RawClient(port: port, receiveTimeout: 0.05)
                let start = Date()
                let head = Array("GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 100)
                for byte in head {
                    do { try client.send([byte]) } catch { break }  // the server may have closed already
                    client.setReceiveTimeout(0.3)  // one byte every 300 ms, watching for the server's answer
                    if let response = try? client.readResponse() {
                        return (response.status, Date().timeIntervalSince(start))
                    }
                    if Date().timeIntervalSince(start) > 5 { break }
                }
                return (nil, Date().timeIntervalSince(start))
            }
            async let normalLatencies: [Double] = offPool {
                var latencies: [Double] = []
                for _ in 0..<15 {
                    let client = try RawClient(port: port)
                    let start = Date()
                    try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
                    _ = try client.readResponse()
                    latencies.append(Date().timeIntervalSince(start))
                    usleep(100_000)
                }
                return latencies
            }
            let (cutOff, latencies) = try await (slowloris, normalLatencies)
            #expect(cutOff.status == 408)
            #expect(cutOff.seconds >= 0.9 && cutOff.seconds < 2.5, "cut off after \(cutOff.seconds) s")
            #expect(latencies.count == 15)
            #expect(latencies.max()! < 0.2, "slowest normal request took \(latencies.max()!) s")
        }
    }

    @Test func connectionsPastTheCapGet503() async throws {
        let limits = HTTPServerLimits(maxConnections: 3)
        try await withServer(configuration: testConfiguration(limits: limits)) { port in
            try await offPool {
                let held = try (0..<3).map { _ in try RawClient(port: port) }
                try held[0].send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try held[0].readResponse().status == 200)  // all three are accepted
                let extra = try RawClient(port: port)
                let refused = try extra.readResponse()
                #expect(refused.status == 503)
                #expect(refused.header("Retry-After") == "1")
                #expect(extra.isClosedByServer())
                _ = held
            }
            try await Task.sleep(for: .milliseconds(100))  // the held connections are closed now
            let response = try await request(port: port, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(response.status == 200)
        }
    }
}
