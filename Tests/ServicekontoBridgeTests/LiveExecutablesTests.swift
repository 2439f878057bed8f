import Foundation
import HTTPClient
import HTTPTestSupport
import Postgres
import Testing
import TestSupport

/// A built executable of this package in a process of its own; its output is drained on a
/// thread so a chatty service never blocks on a full pipe. SIGKILLed when the test ends.
final class ServiceProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var lines: [String] = []

    init(_ product: String, environment: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: try builtProduct(product))
        process.environment = ["HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0", "LOG_LEVEL": "info"].merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let handle = output.fileHandleForReading
        Thread.detachNewThread { [self] in
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: 10) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...newline)
                    lock.withLock { lines.append(line) }
                }
            }
        }
    }

    var output: [String] { lock.withLock { lines } }

    /// The port from the runtime's "http server listening" log line.
    func port() async throws -> Int {
        let found = try await eventually(timeout: .seconds(20)) {
            output.contains { $0.contains("\"http server listening\"") } || !process.isRunning
        }
        guard found, let line = output.first(where: { $0.contains("\"http server listening\"") }),
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let port = Int(object["port"] as? String ?? "")
        else { throw TestServerError("\(process.executableURL!.lastPathComponent) did not start: \(output.suffix(5))") }
        return port
    }

    func signal(_ number: Int32) { if process.isRunning { kill(process.processIdentifier, number) } }

    func waitForExit(within timeout: Duration) async -> Bool {
        await eventually(timeout: timeout, every: .milliseconds(20)) { !process.isRunning }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// The real `servicekonto-sandbox` and `servicekonto-bridge` executables, configured only
/// through their environment: delivery, readiness, replies across a crash (SIGKILL) of the
/// bridge, and a clean SIGTERM.
@Suite(.serialized)
struct LiveExecutablesTests {
    @Test func bridgeExecutableDeliversAndKeepsTheReplyCursorAcrossACrash() async throws {
        let h = try await Harness.make()   // database and seeding helpers; its in-process sandbox is unused
        let sandbox = try ServiceProcess("servicekonto-sandbox", environment: [
            "SANDBOX_CLIENT_ID": "bridge", "SANDBOX_CLIENT_SECRET": "live-secret", "SANDBOX_FAULT_500_RATE": "0.2",
        ])
        let sandboxURL = "http://127.0.0.1:\(try await sandbox.port())"
        let secretFile = NSTemporaryDirectory() + "bridge-secret-" + UUID().uuidString
        try "live-secret\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: secretFile) }
        let bridgeEnvironment = [
            "DATABASE_URL": h.db.url, "SERVICEKONTO_URL": sandboxURL, "SERVICEKONTO_TOKEN_URL": sandboxURL + "/oauth/token",
            "SERVICEKONTO_CLIENT_ID": "bridge", "SERVICEKONTO_CLIENT_SECRET_FILE": secretFile,
            "REPLY_POLL_INTERVAL_SECONDS": "0.1", "REPLY_PAGE_SIZE": "2", "BRIDGE_BACKOFF_BASE_SECONDS": "0.05",
            "BRIDGE_BACKOFF_MAX_SECONDS": "0.5",
        ]
        let fixture = try await h.seedTenant()
        let app = try await h.seedApplications(fixture)[0]
        let question = try await h.queueMessage(fixture, application: app.id, mailbox: app.mailbox!, kind: "question", subject: "Rückfrage")

        var bridge = try ServiceProcess("servicekonto-bridge", environment: bridgeEnvironment)
        let bridgePort = try await bridge.port()
        #expect(try await h.waitUntilSettled(timeout: .seconds(20)))
        #expect(try await h.messageState(question).deliveryState == "delivered")
        let ready = try await h.inspector.send(.get, "http://127.0.0.1:\(bridgePort)/readyz")
        #expect(ready.status == 200)

        func reply(_ n: Int) async throws {
            let body = Array(#"{"inReplyTo": "\#(question.uuidString.lowercased())", "text": "Antwort \#(n)"}"#.utf8)
            let response = try await h.inspector.send(.post, sandboxURL + "/sandbox/mailboxes/\(app.mailbox!.uuidString.lowercased())/replies",
                                                      headers: [("Content-Type", "application/json")], body: body)
            #expect(response.status == 201)
        }
        for n in 1...3 { try await reply(n) }
        #expect(try await eventually(timeout: .seconds(20)) { try await h.jobs(on: "citizen-reply").count == 3 })
        bridge.signal(SIGKILL)                         // a crash, not a clean stop
        #expect(await bridge.waitForExit(within: .seconds(5)))
        #expect(try await h.count("WITH d AS (DELETE FROM queue_jobs WHERE queue = 'citizen-reply' RETURNING 1) SELECT count(*) FROM d") == 3)

        for n in 4...6 { try await reply(n) }
        bridge = try ServiceProcess("servicekonto-bridge", environment: bridgeEnvironment)
        _ = try await bridge.port()
        #expect(try await eventually(timeout: .seconds(20)) { try await h.jobs(on: "citizen-reply").count >= 3 })
        try await Task.sleep(for: .milliseconds(600))
        let texts = try await h.jobs(on: "citizen-reply").map { $0.payload["text"] as? String }
        #expect(texts == ["Antwort 4", "Antwort 5", "Antwort 6"])

        bridge.signal(SIGTERM)
        #expect(await bridge.waitForExit(within: .seconds(15)))
        #expect(bridge.process.terminationStatus == 0)
        sandbox.signal(SIGTERM)
        #expect(await sandbox.waitForExit(within: .seconds(15)))
        await h.close()
    }
}
