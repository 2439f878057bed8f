import Foundation
import HTTPServer
import HTTPTestSupport
import Logging
import Synchronization
import Testing

@Suite struct StreamingResponseTests {
    final class Progress: Sendable {
        let written = Mutex(0)
        let failure = Mutex<String?>(nil)
    }

    struct ProducerFailure: Error {}

    static func router(progress: Progress) -> (Logger) -> Router {
        { logger in
            var router = Router(logger: logger)
            router.get("/chunked") { _ in
                HTTPResponse(headers: ["Content-Type": "text/plain"], stream: HTTPBodyStream { writer in
                    for piece in ["alpha ", "beta ", "gamma"] { try await writer.write(Array(piece.utf8)) }
                })
            }
            router.get("/sized") { _ in
                HTTPResponse(stream: HTTPBodyStream(contentLength: 10) { writer in
                    try await writer.write(Array("01234".utf8))
                    try await writer.write(Array("56789".utf8))
                })
            }
            router.get("/big/:mib") { context in
                let total = try context.intParameter("mib") << 20
                return HTTPResponse(stream: HTTPBodyStream(contentLength: total) { writer in
                    let piece = [UInt8](repeating: UInt8(ascii: "z"), count: 64 * 1024)
                    do {
                        for _ in 0..<(total / piece.count) {
                            try await writer.write(piece)
                            progress.written.withLock { $0 += piece.count }
                        }
                    } catch {
                        progress.failure.withLock { $0 = String(describing: error) }
                        throw error
                    }
                })
            }
            router.get("/broken") { _ in
                HTTPResponse(stream: HTTPBodyStream { writer in
                    try await writer.write(Array("partial".utf8))
                    throw ProducerFailure()
                })
            }
            return router
        }
    }

    @Test func chunkedAndSizedStreamsReachCurlIntact() async throws {
        try await withServer(router: Self.router(progress: Progress())) { port in
            let chunked = try await runProcess(toolPath("curl"), ["-sS", "-D", "-", "http://127.0.0.1:\(port)/chunked"])
            #expect(chunked.status == 0, "\(chunked.stderr)")
            #expect(chunked.stdout.lowercased().contains("transfer-encoding: chunked"))
            #expect(chunked.stdout.hasSuffix("\r\n\r\nalpha beta gamma"))
            let both = try await runProcess(toolPath("curl"), ["-sS", "-w", " connects=%{num_connects}\n",
                                                                "http://127.0.0.1:\(port)/sized", "http://127.0.0.1:\(port)/chunked"])
            #expect(both.stdout == "0123456789 connects=1\nalpha beta gamma connects=0\n", "a stream keeps the connection reusable")
        }
    }

    @Test func http10AndHeadStreams() async throws {
        try await withServer(router: Self.router(progress: Progress())) { port in
            let old = try await request(port: port, "GET /chunked HTTP/1.0\r\n\r\n")
            #expect(old.bodyText == "alpha beta gamma")  // body ends with the connection
            #expect(old.header("Transfer-Encoding") == nil)
            #expect(old.header("Connection") == "close")
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("HEAD /sized HTTP/1.1\r\nHost: t\r\n\r\nGET /hello-missing HTTP/1.1\r\nHost: t\r\n\r\n")
                let head = try client.readResponse(headOnly: true)
                #expect(head.header("Content-Length") == "10")
                #expect(try client.readResponse().status == 404)  // no body bytes were sent for HEAD
            }
        }
    }

    @Test func slowReaderHoldsBackTheProducer() async throws {
        let progress = Progress()
        try await withServer(router: Self.router(progress: progress)) { port in
            let received: Int = try await offPool {
                let client = try RawClient(port: port, receiveTimeout: 10)
                var size: Int32 = 64 * 1024
                setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                try client.send("GET /big/64 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                usleep(500_000)  // read nothing for a while
                let writtenWhileStalled = progress.written.withLock { $0 }
                #expect(writtenWhileStalled < 8 << 20, "producer ran \(writtenWhileStalled) bytes ahead of a stalled client")
                let response = try client.readResponse()
                return response.body.count
            }
            #expect(received == 64 << 20)
        }
    }

    @Test func failingProducerCutsTheConnection() async throws {
        try await withServer(router: Self.router(progress: Progress())) { port in
            let result = try await runProcess(toolPath("curl"), ["-sS", "http://127.0.0.1:\(port)/broken"])
            #expect(result.status != 0, "curl must see an incomplete chunked body")
            #expect(result.stdout == "partial")
        }
    }

    @Test func clientLeavingStopsTheProducer() async throws {
        let progress = Progress()
        try await withServer(router: Self.router(progress: progress)) { port in
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("GET /big/256 HTTP/1.1\r\nHost: t\r\n\r\n")
                usleep(100_000)
            }  // closed without reading
            let deadline = ContinuousClock.now + .seconds(3)
            while progress.failure.withLock({ $0 }) == nil && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(progress.failure.withLock { $0 } != nil)
            #expect(progress.written.withLock { $0 } < 256 << 20)
        }
    }
}
