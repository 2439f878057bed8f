import Foundation
import HTTPClient
import HTTPTestSupport
import Lease
import Testing
import TestSupport

/// The libcurl client against a Python HTTPS server that requires a client certificate:
/// CA bundle verification, mutual TLS, keep-alive over TLS, timeouts and `Retry-After`.
@Suite(.serialized)
struct HTTPClientTLSTests {
    static let serverScript = #"""
    import http.server, ssl, sys, time, json
    posts = 0
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args): pass
        def answer(self, status, body, headers=()):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers: self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        def do_GET(self):
            if self.path == "/slow": time.sleep(3)
            if self.path == "/busy": return self.answer(429, "{}", [("Retry-After", "7")])
            if self.path == "/posts": return self.answer(200, str(posts))
            peer = self.connection.getpeercert()
            subject = dict(x[0] for x in peer["subject"]) if peer else {}
            self.answer(200, json.dumps({"client": subject.get("commonName", "")}))
        def do_POST(self):
            global posts
            posts += 1
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            self.answer(201, json.dumps({"echo": body.decode(), "type": self.headers.get("Content-Type")}))
    directory = sys.argv[1]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory + "/server.pem", directory + "/server.key")
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(directory + "/client.pem")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#

    final class Server: @unchecked Sendable {
        let process: Process
        let directory: String
        let port: Int

        private init(directory: String, port: Int, process: Process) {
            self.directory = directory
            self.port = port
            self.process = process
        }

        static func start() async throws -> Server {
            let directory = NSTemporaryDirectory() + "amtsweg-tls-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for (name, cn, san) in [("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1"), ("client", "amtsweg-bridge", "subjectAltName=DNS:amtsweg-bridge")] {
                // Output to /dev/null and exit observed by polling: a pipe read to EOF could hang
                // when a process spawned at the same time by another test inherits its write end.
                let openssl = Process()
                openssl.executableURL = URL(fileURLWithPath: toolPath("openssl"))
                openssl.arguments = [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).pem", "-days", "1",
                    "-subj", "/CN=\(cn)", "-addext", san]
                openssl.standardOutput = FileHandle.nullDevice
                openssl.standardError = FileHandle.nullDevice
                try openssl.run()
                guard await eventually(timeout: .seconds(20), { !openssl.isRunning }), openssl.terminationStatus == 0 else {
                    throw TestServerError("openssl could not make the \(name) certificate")
                }
            }
            try HTTPClientTLSTests.serverScript.write(toFile: "\(directory)/server.py", atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: toolPath("python3"))
            process.arguments = ["\(directory)/server.py", directory]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let handle = output.fileHandleForReading
            // The first line is the port; read it on a thread of its own (blocking read).
            let line = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
                Thread.detachNewThread {
                    var line = Data()
                    while true {
                        let byte = handle.readData(ofLength: 1)
                        if byte.isEmpty || byte == Data("\n".utf8) { break }
                        line.append(byte)
                    }
                    continuation.resume(returning: String(decoding: line, as: UTF8.self))
                }
            }
            guard let port = Int(line) else { throw TestServerError("TLS test server did not start") }
            return Server(directory: directory, port: port, process: process)
        }

        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func mutualTLSWithTheConfiguredCABundleReusesOneConnection() async throws {
        let server = try await Server.start()
        defer { server.stop() }
        let client = HTTPClient(HTTPClientConfiguration(
            connections: 1, connectTimeout: .seconds(5), requestTimeout: .seconds(5), caFile: "\(server.directory)/server.pem",
            clientCertificateFile: "\(server.directory)/client.pem", clientKeyFile: "\(server.directory)/client.key"))
        defer { client.shutdown() }
        for _ in 0..<20 {
            let response = try await client.send(.get, "https://localhost:\(server.port)/hello")
            #expect(response.status == 200)
            #expect(response.bodyText == #"{"client": "amtsweg-bridge"}"#)
        }
        let posted = try await client.send(.post, "https://127.0.0.1:\(server.port)/echo", headers: [("Content-Type", "application/json")], body: Array(#"{"a":1}"#.utf8))
        #expect(posted.status == 201)
        #expect(posted.bodyText == #"{"echo": "{\"a\":1}", "type": "application/json"}"#)
        let busy = try await client.send(.get, "https://localhost:\(server.port)/busy")
        #expect(busy.status == 429)
        #expect(busy.retryAfter == .seconds(7))
        // 20 GETs to localhost on one connection, then one new connection to 127.0.0.1
        // (another host name), reused again for /busy.
        #expect(client.connectionsOpened == 2)
    }

    @Test func aRequestWhoseDeadlinePassedIsNotSent() async throws {
        let server = try await Server.start()
        defer { server.stop() }
        let client = HTTPClient(HTTPClientConfiguration(
            connections: 1, caFile: "\(server.directory)/server.pem",
            clientCertificateFile: "\(server.directory)/client.pem", clientKeyFile: "\(server.directory)/client.key"))
        defer { client.shutdown() }
        let lost = LeaseDeadline(until: .now + .seconds(60))
        lost.markLost()
        do {
            _ = try await client.send(.post, "https://localhost:\(server.port)/echo", body: Array("{}".utf8), before: lost)
            Issue.record("a request past its deadline was sent")
        } catch {
            #expect(error.kind == .leaseLost, "\(error)")
        }
        let live = LeaseDeadline(until: .now + .seconds(60))
        #expect(try await client.send(.post, "https://localhost:\(server.port)/echo", body: Array("{}".utf8), before: live).status == 201)
        #expect(try await client.send(.get, "https://localhost:\(server.port)/posts").bodyText == "1")
    }

    @Test func refusesServersOutsideTheCABundleAndHandshakesWithoutAClientCertificate() async throws {
        let server = try await Server.start()
        defer { server.stop() }
        // System CA bundle: the self-signed server certificate is not trusted.
        let untrusting = HTTPClient(HTTPClientConfiguration(
            connections: 1, clientCertificateFile: "\(server.directory)/client.pem", clientKeyFile: "\(server.directory)/client.key"))
        defer { untrusting.shutdown() }
        await #expect(throws: HTTPClientError.self) { try await untrusting.send(.get, "https://localhost:\(server.port)/hello") }
        // Trusted server, but no client certificate: the server ends the handshake.
        let anonymous = HTTPClient(HTTPClientConfiguration(connections: 1, caFile: "\(server.directory)/server.pem"))
        defer { anonymous.shutdown() }
        await #expect(throws: HTTPClientError.self) { try await anonymous.send(.get, "https://localhost:\(server.port)/hello") }
    }

    @Test func requestTimeoutIsANetworkError() async throws {
        let server = try await Server.start()
        defer { server.stop() }
        let client = HTTPClient(HTTPClientConfiguration(
            connections: 1, connectTimeout: .seconds(2), requestTimeout: .milliseconds(700), caFile: "\(server.directory)/server.pem",
            clientCertificateFile: "\(server.directory)/client.pem", clientKeyFile: "\(server.directory)/client.key"))
        defer { client.shutdown() }
        let started = ContinuousClock.now
        do {
            _ = try await client.send(.get, "https://localhost:\(server.port)/slow")
            Issue.record("a 3 s answer must not beat a 0.7 s timeout")
        } catch {
            #expect(error.kind == .network)
            #expect(error.curlCode == 28)   // CURLE_OPERATION_TIMEDOUT
        }
        #expect(ContinuousClock.now - started < .seconds(2))
        // Nothing listening: also a network error, not a crash.
        await #expect(throws: HTTPClientError.self) { try await client.send(.get, "http://127.0.0.1:1/") }
    }
}
