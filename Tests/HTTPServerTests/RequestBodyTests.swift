import Foundation
import HTTPServer
import HTTPTestSupport
import Testing

@Suite struct RequestBodyTests {
    @Test func contentLengthBodyIsDelivered() async throws {
        try await withServer { port in
            let response = try await request(port: port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world")
            #expect(response.status == 200)
            #expect(response.bodyText == "hello world")
        }
    }

    @Test func chunkedBodyWithExtensionsAndTrailersIsDelivered() async throws {
        try await withServer { port in
            let response = try await request(port: port,
                "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n")
            #expect(response.status == 200)
            #expect(response.bodyText == "hello 0123456789")
        }
    }

    @Test func bodyArrivingInSmallPiecesIsAssembled() async throws {
        try await withServer { port in
            try await offPool {
                let client = try RawClient(port: port)
                let raw = Array("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".utf8)
                for byte in raw {
                    try client.send([byte])
                    usleep(200)
                }
                let response = try client.readResponse()
                #expect(response.bodyText == "abcde")
            }
        }
    }

    @Test func expectContinueGets100BeforeTheBody() async throws {
        try await withServer { port in
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
                let interim = try client.readResponse()
                #expect(interim.status == 100)
                try client.send("ping")
                let final = try client.readResponse()
                #expect(final.status == 200)
                #expect(final.bodyText == "ping")
            }
        }
    }

    @Test func expectContinueOverTheLimitGets413WithoutReadingTheBody() async throws {
        try await withServer { port in
            let response = try await request(port: port, "POST /small HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n")
            #expect(response.status == 413)
        }
    }

    @Test func routeBodyLimitIsEnforcedAndOtherRoutesKeepTheDefault() async throws {
        try await withServer { port in
            let small = try await request(port: port, "POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789")
            #expect(small.bodyText == "got 10")
            let tooLarge = try await request(port: port, "POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n0123456789a")
            #expect(tooLarge.status == 413)
            let large = String(repeating: "z", count: 500_000)
            let echoed = try await request(port: port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(large.utf8.count)\r\n\r\n\(large)")
            #expect(echoed.body.count == 500_000)
            let twoMiB = String(repeating: "y", count: 2 << 20)
            let overDefault = try await request(port: port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(twoMiB.utf8.count)\r\n\r\n")
            #expect(overDefault.status == 413)
            let raised = try await request(port: port, "POST /large HTTP/1.1\r\nHost: t\r\nContent-Length: \(twoMiB.utf8.count)\r\n\r\n\(twoMiB)")
            #expect(raised.bodyText == "got \(2 << 20)")
        }
    }

    @Test func stalledBodyIsCutOffWith408() async throws {
        let timeouts = HTTPServerTimeouts(bodyGrace: .milliseconds(300), lingeringClose: .milliseconds(200))
        try await withServer(configuration: testConfiguration(timeouts: timeouts)) { port in
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
                let start = Date()
                let response = try client.readResponse()
                #expect(response.status == 408)
                #expect(Date().timeIntervalSince(start) < 2)
            }
        }
    }

    /// A body trickling in, one byte every 200 ms, is cut off once it falls below the minimum
    /// rate after the grace period — each byte must not buy the client another full timeout.
    @Test func aBodyBelowTheMinimumRateIsCutOffWith408WhileStillTrickling() async throws {
        var timeouts = HTTPServerTimeouts(lingeringClose: .milliseconds(200))
        timeouts.bodyGrace = .seconds(1)
        timeouts.minimumBodyBytesPerSecond = 1024
        try await withServer(configuration: testConfiguration(timeouts: timeouts)) { port in
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
                let start = Date()
                client.setReceiveTimeout(0.2)
                var answer: RawClient.Response?
                while answer == nil, Date().timeIntervalSince(start) < 8 {
                    _ = client.sendFiller(1, until: Date().addingTimeInterval(1))
                    answer = try? client.readResponse()
                }
                let elapsed = Date().timeIntervalSince(start)
                #expect(answer?.status == 408, "\(String(describing: answer?.status)) after \(elapsed) s")
                #expect(elapsed < 3, "cut off after \(elapsed) s of trickling (grace 1 s)")
            }
        }
    }
}
