import Foundation
import HTTPServer
import HTTPTestSupport
import Testing

@Suite struct KeepAliveAndPipeliningTests {
    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        try await withServer { port in
            try await offPool {
                let client = try RawClient(port: port)
                for _ in 0..<3 {
                    try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
                    let response = try client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.bodyText == "hello")
                    #expect(response.header("Connection") == nil)
                    #expect(response.header("X-Request-Id")?.count == 32)
                }
            }
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        try await withServer { port in
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.header("Connection") == "close")
                #expect(client.isClosedByServer())
            }
        }
    }

    @Test func http10ClosesUnlessKeepAliveIsAsked() async throws {
        try await withServer { port in
            try await offPool {
                let plain = try RawClient(port: port)
                try plain.send("GET /hello HTTP/1.0\r\n\r\n")
                #expect(try plain.readResponse().status == 200)
                #expect(plain.isClosedByServer())

                let keptAlive = try RawClient(port: port)
                for _ in 0..<2 {
                    try keptAlive.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                    let response = try keptAlive.readResponse()
                    #expect(response.status == 200)
                    #expect(response.header("Connection") == "keep-alive")
                }
            }
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withServer { port in
            try await offPool {
                let client = try RawClient(port: port)
                // The first request is the slowest: answers must still come back in request order.
                try client.send(
                    "GET /sleep/150 HTTP/1.1\r\nHost: t\r\n\r\n"
                        + "GET /path/second HTTP/1.1\r\nHost: t\r\n\r\n"
                        + "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nthird"
                        + "GET /sleep/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                )
                let bodies = try (0..<4).map { _ in try client.readResponse().bodyText }
                #expect(bodies == ["slept 150", "second", "third", "slept 1"])
                #expect(client.isClosedByServer())
            }
        }
    }

    @Test func idleKeepAliveConnectionIsClosedAfterTheIdleTimeout() async throws {
        let timeouts = HTTPServerTimeouts(keepAliveIdle: .milliseconds(300), lingeringClose: .milliseconds(200))
        try await withServer(configuration: testConfiguration(timeouts: timeouts)) { port in
            try await offPool {
                let client = try RawClient(port: port, receiveTimeout: 3)
                try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try client.readResponse().status == 200)
                let start = Date()
                #expect(client.isClosedByServer())
                #expect(Date().timeIntervalSince(start) < 2)
            }
        }
    }

    @Test func headRequestGetsHeadersWithoutBody() async throws {
        try await withServer { port in
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
                // A HEAD response carries Content-Length but no body; the reader must not consume one.
                var head = try client.readResponse(headOnly: true)
                #expect(head.status == 200)
                #expect(head.header("Content-Length") == "5")
                head = try client.readResponse()
                #expect(head.bodyText == "hello")
            }
        }
    }
}
