import Foundation
import HTTPClient
import HTTPTestSupport
import Postgres
import Testing
import TestSupport

/// The real `servicekonto-sandbox` and `servicekonto-bridge` executables, configured only
/// through their environment: delivery, readiness, replies across a crash (SIGKILL) of the
/// bridge, and a clean SIGTERM.
@Suite(.serialized)
struct LiveExecutablesTests {
    @Test func bridgeExecutableDeliversAndKeepsTheReplyCursorAcrossACrash() async throws {
        let h = try await Harness.make()   // database and seeding helpers; its in-process sandbox is unused
        let logs = NSTemporaryDirectory() + "bridge-live-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let sandbox = try ManagedProcess(name: "servicekonto-sandbox", product: "servicekonto-sandbox", port: try freeLoopbackPort(), environment: [
            "SANDBOX_CLIENT_ID": "bridge", "SANDBOX_CLIENT_SECRET": "live-secret", "SANDBOX_FAULT_500_RATE": "0.2",
        ], logDirectory: logs)
        try await sandbox.start()
        let sandboxURL = "http://127.0.0.1:\(sandbox.port)"
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

        let bridge = try ManagedProcess(
            name: "servicekonto-bridge", product: "servicekonto-bridge", port: try freeLoopbackPort(), environment: bridgeEnvironment, logDirectory: logs)
        try await bridge.start()
        let bridgePort = bridge.port
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
        await bridge.kill()                            // a crash, not a clean stop
        #expect(try await h.count("WITH d AS (DELETE FROM queue_jobs WHERE queue = 'citizen-reply' RETURNING 1) SELECT count(*) FROM d") == 3)

        for n in 4...6 { try await reply(n) }
        try await bridge.start()
        #expect(try await eventually(timeout: .seconds(20)) { try await h.jobs(on: "citizen-reply").count >= 3 })
        try await Task.sleep(for: .milliseconds(600))
        let texts = try await h.jobs(on: "citizen-reply").map { $0.payload["text"] as? String }
        #expect(texts == ["Antwort 4", "Antwort 5", "Antwort 6"])

        #expect(await bridge.stop(), "the bridge exits with status 0 on SIGTERM")
        #expect(await sandbox.stop())
        await h.close()
    }
}
