import Foundation
import HTTPServer
import HTTPTestSupport
import Logging
import Testing

/// The server against real clients: curl and Python's `http.client`.
@Suite struct RealClientTests {
    static func router(_ logger: Logger) -> Router {
        var router = standardRouter(logger: logger)
        router.post("/inspect") { context in
            let framing = context.request.headers["Transfer-Encoding"] ?? "length"
            return .text("\(framing) \(context.request.body.count) \(String(decoding: context.request.body, as: UTF8.self))")
        }
        return router
    }

    @Test func curlReusesTheKeepAliveConnection() async throws {
        try await withServer(router: Self.router) { port in
            let url = "http://127.0.0.1:\(port)/hello"
            let result = try await runProcess(toolPath("curl"), ["-sS", "-w", " connects=%{num_connects}\n", url, url, url])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "hello connects=1\nhello connects=0\nhello connects=0\n")
        }
    }

    @Test func curlChunkedUpload() async throws {
        try await withServer(router: Self.router) { port in
            let payload = String(repeating: "chunk-", count: 3000)
            let result = try await runProcess(toolPath("curl"), [
                "-sS", "-H", "Transfer-Encoding: chunked", "-H", "Content-Type: text/plain",
                "--data-binary", "@-", "http://127.0.0.1:\(port)/inspect",
            ], input: payload)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "chunked \(payload.utf8.count) \(payload)")
        }
    }

    @Test func curlExpectContinue() async throws {
        try await withServer(router: Self.router) { port in
            let payload = String(repeating: "x", count: 4096)
            let result = try await runProcess(toolPath("curl"), [
                "-sS", "-v", "-H", "Expect: 100-continue", "--data-binary", "@-", "http://127.0.0.1:\(port)/inspect",
            ], input: payload)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("HTTP/1.1 100 Continue"))
            #expect(result.stdout == "length 4096 \(payload)")
        }
    }

    static let pythonClient = #"""
import http.client, json, sys
port = int(sys.argv[1])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
out = {}
conn.request("GET", "/hello")
r = conn.getresponse()
out["get"] = [r.status, r.read().decode(), len(r.getheader("X-Request-Id") or "")]
first_socket = conn.sock
conn.request("POST", "/inspect", body=b"py-body", headers={"Content-Type": "text/plain"})
r = conn.getresponse()
out["post"] = [r.status, r.read().decode()]
conn.request("POST", "/inspect", body=iter([b"ab", b"cd", b"ef"]), encode_chunked=True)
r = conn.getresponse()
out["chunked"] = [r.status, r.read().decode()]
conn.request("GET", "/missing", headers={"X-Request-Id": "py-req-1"})
r = conn.getresponse()
out["missing"] = [r.status, r.getheader("Content-Type"), "ours" if json.loads(r.read())["request_id"] == r.getheader("X-Request-Id") != "py-req-1" else "not ours"]
conn.request("HEAD", "/hello")
r = conn.getresponse()
out["head"] = [r.status, r.getheader("Content-Length"), r.read().decode()]
out["same_connection"] = conn.sock is first_socket
print(json.dumps(out, sort_keys=True))
"""#

    @Test func pythonHTTPClient() async throws {
        try await withServer(router: Self.router) { port in
            let result = try await runProcess(toolPath("python3"), ["-c", Self.pythonClient, String(port)])
            #expect(result.status == 0, "\(result.stderr)")
            let output = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(output["get"] as? [AnyHashable] == [200, "hello", 32])
            #expect(output["post"] as? [AnyHashable] == [200, "length 7 py-body"])
            #expect(output["chunked"] as? [AnyHashable] == [200, "chunked 6 abcdef"])
            // The problem names our id, the one in X-Request-Id, not the client's.
            #expect(output["missing"] as? [AnyHashable] == [404, "application/problem+json", "ours"])
            #expect(output["head"] as? [AnyHashable] == [200, "5", ""])
            #expect(output["same_connection"] as? Bool == true)
        }
    }
}
