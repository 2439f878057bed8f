import Foundation
import HTTPServer
import HTTPTestSupport
import Testing

/// Every malformed request gets its status, the connection is closed, and the server still
/// answers a normal request afterwards.
@Suite struct MalformedRequestTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var raw: [UInt8]
        var status: Int
        var code: String
        var testDescription: String { name }

        init(_ name: String, _ raw: String, _ status: Int, _ code: String) {
            self.name = name
            self.raw = Array(raw.utf8)
            self.status = status
            self.code = code
        }
    }

    static let cases: [Case] = [
        Case("garbage request line", "GARBAGE\r\nHost: t\r\n\r\n", 400, "malformed-request-line"),
        Case("missing version", "GET /hello\r\nHost: t\r\n\r\n", 400, "malformed-request-line"),
        Case("double space in request line", "GET  /hello HTTP/1.1\r\nHost: t\r\n\r\n", 400, "malformed-request-line"),
        Case("lowercase version", "GET /hello http/1.1\r\nHost: t\r\n\r\n", 400, "malformed-request-line"),
        Case("target without slash", "GET hello HTTP/1.1\r\nHost: t\r\n\r\n", 400, "invalid-request-target"),
        Case("invalid method", "G(T /hello HTTP/1.1\r\nHost: t\r\n\r\n", 400, "invalid-method"),
        Case("bare LF line ending", "GET /hello HTTP/1.1\nHost: t\n\n", 400, "bare-line-feed"),
        Case("space in header name", "GET /hello HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n", 400, "invalid-header-name"),
        Case("space before colon", "GET /hello HTTP/1.1\r\nHost: t\r\nX-Name : x\r\n\r\n", 400, "invalid-header-name"),
        Case("header without colon", "GET /hello HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n", 400, "invalid-header-name"),
        Case("control byte in header value", "GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\u{01}b\r\n\r\n", 400, "invalid-header-value"),
        Case("obs-fold", "GET /hello HTTP/1.1\r\nHost: t\r\nX-A: one\r\n  two\r\n\r\n", 400, "obsolete-line-folding"),
        Case("missing Host", "GET /hello HTTP/1.1\r\n\r\n", 400, "invalid-host"),
        Case("two Host headers", "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "invalid-host"),
        Case("two Authorization headers", "GET /hello HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n", 400, "duplicate-authorization"),
        Case("duplicate Content-Length", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400, "duplicate-content-length"),
        Case("Content-Length list", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 3\r\n\r\nabc", 400, "duplicate-content-length"),
        Case("non-numeric Content-Length", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n", 400, "invalid-content-length"),
        Case("negative Content-Length", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400, "invalid-content-length"),
        Case("plus-signed Content-Length", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc", 400, "invalid-content-length"),
        Case("huge Content-Length", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, "invalid-content-length"),
        Case("Content-Length with Transfer-Encoding", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400, "content-length-with-transfer-encoding"),
        Case("bad chunk size", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400, "invalid-chunk-size"),
        Case("empty chunk size", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n", 400, "invalid-chunk-size"),
        Case("overflowing chunk size", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\nabc\r\n", 400, "invalid-chunk-size"),
        Case("negative chunk size", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n", 400, "invalid-chunk-size"),
        Case("chunk data too long", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n", 400, "invalid-chunk-framing"),
        Case("unknown transfer coding", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unknown-transfer-coding"),
        Case("unknown coding before chunked", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, "unknown-transfer-coding"),
        Case("chunked twice", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400, "invalid-transfer-encoding"),
        Case("Transfer-Encoding in HTTP/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "invalid-transfer-encoding"),
        Case("HTTP/2.0", "GET /hello HTTP/2.0\r\nHost: t\r\n\r\n", 505, "unsupported-http-version"),
        Case("HTTP/1.2", "GET /hello HTTP/1.2\r\nHost: t\r\n\r\n", 505, "unsupported-http-version"),
        Case("HTTP/0.9", "GET /hello HTTP/0.9\r\nHost: t\r\n\r\n", 505, "unsupported-http-version"),
        Case("unsupported expectation", "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417, "unsupported-expectation"),
        Case("request line over 8 KiB", "GET /" + String(repeating: "a", count: 8300) + " HTTP/1.1\r\nHost: t\r\n\r\n", 414, "request-line-too-long"),
        Case("header block over 64 KiB", "GET /hello HTTP/1.1\r\nHost: t\r\n" + String(repeating: "X-Filler: " + String(repeating: "b", count: 1000) + "\r\n", count: 66) + "\r\n", 431, "header-block-too-large"),
        Case("more than 100 header fields", "GET /hello HTTP/1.1\r\nHost: t\r\n" + (0..<101).map { "X-F\($0): v\r\n" }.joined() + "\r\n", 431, "too-many-header-fields"),
        Case("Content-Length over the body limit", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n", 413, "body-too-large"),
        Case("chunked body over a route's limit", "POST /small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n", 413, "body-too-large"),
    ]

    @Test(arguments: cases)
    func malformedRequestIsRefusedAndServerStaysHealthy(_ testCase: Case) async throws {
        try await withServer { port in
            try await offPool {
                let client = try RawClient(port: port)
                try client.send(testCase.raw)
                let response = try client.readResponse()
                #expect(response.status == testCase.status)
                #expect(response.header("Content-Type") == "application/problem+json")
                #expect(response.header("Connection") == "close")
                #expect(response.header("X-Request-Id") != nil)
                let problem = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
                #expect(problem?["code"] as? String == testCase.code)
                #expect(problem?["status"] as? Int == testCase.status)
                #expect(client.isClosedByServer())

                let healthy = try RawClient(port: port)
                try healthy.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try healthy.readResponse().status == 200)
            }
        }
    }

    @Test func malformedRequestAfterAGoodOneOnTheSameConnection() async throws {
        try await withServer { port in
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /x HTTP/1.1\r\nHost: t\r\nBad Name: v\r\n\r\n")
                #expect(try client.readResponse().status == 200)
                #expect(try client.readResponse().status == 400)
                #expect(client.isClosedByServer())
            }
        }
    }
}
