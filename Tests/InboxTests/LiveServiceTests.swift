import Domain
import Foundation
import HTTPTestSupport
@testable import InboxService
import Postgres
import Testing
import TestSupport

/// The `inbox` executable as deployed: a real process on a socket, checked by the Python tools
/// the issue names (`pip install schemathesis openapi-spec-validator`); a missing tool fails.
@Suite("Inbox live service", .serialized)
struct LiveServiceTests {
    static var openAPIFile: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Services/inbox/openapi.yaml").path
    }

    @Test("the OpenAPI 3.1 document validates and is the one served at /openapi.yaml")
    func openAPIDocument() async throws {
        let tool = try inboxRequireTool("openapi-spec-validator")
        let run = try await runProcess(tool, [Self.openAPIFile])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("OK"))
        let file = try String(contentsOfFile: Self.openAPIFile, encoding: .utf8)
        #expect(OpenAPIDocument.yaml + "\n" == file || OpenAPIDocument.yaml == file, "run Services/inbox/sync-openapi.sh")
        #expect(file.hasPrefix("openapi: 3.1"))
    }

    @Test("schemathesis against the running service, as an admin: no 5xx")
    func schemathesis() async throws {
        let tool = try inboxRequireTool("st")
        let db = try await TestDatabase.make()
        let token = try await Self.seed(db)
        // Long-polls are held at most 2 s here, so fuzzed `wait` values stay under schemathesis' request timeout.
        try await InboxProcess.with(databaseURL: db.url, environment: ["LONG_POLL_MAX_SECONDS": "2"]) { inbox in
            let ready = try await offPool {
                let client = try RawClient(port: inbox.port)
                try client.send("GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                return try client.readResponse()
            }
            #expect(ready.status == 200, "\(ready.bodyText)")
            let run = try await runProcess(tool, [
                "run", "http://127.0.0.1:\(inbox.port)/openapi.yaml",
                "-H", "Authorization: Bearer \(token)",
                "--checks", "not_a_server_error", "--exclude-path-regex", "/revoke$",
                "--max-examples", "30", "--request-timeout", "20", "--seed", "20261123", "--workers", "2", "--no-color",
            ])
            #expect(run.status == 0, "\(run.stdout.suffix(6000))\(run.stderr.suffix(2000))")
            #expect(run.stdout.contains("SUMMARY"))
        }
    }

    /// A tenant with a service, an area, an admin, and an application in the area; the admin's token.
    static func seed(_ db: TestDatabase) async throws -> String {
        let admin = AdminStore(pool: db.pool)
        let tenant = try await admin.createTenant(slug: "erkelenz", name: "Stadt Erkelenz", referencePrefix: "ERK")
        let service = try await admin.createService(tenant: tenant.id, key: "parking", name: "Anwohnerparkausweis")
        let boss = try await admin.createCaseworker(tenant: tenant.id, name: "Dora Admin", email: "dora@example.de", roles: [.caseworker, .admin])
        let area = try await admin.createArea(tenant: tenant.id, service: service.id, name: "Nord", rules: [], members: [boss.id])
        try await db.pool.query("""
            INSERT INTO applications (tenant_id, service_id, reference, status, area_id, applicant, form, postbox_mailbox_id, postbox_trust_level, submitted_at)
            VALUES (\(tenant.id), \(service.id), 'ERK-2026-000001', 'assigned', \(area.id), '{"name":"Erika"}', '{}', gen_random_uuid(), 'high', now())
            """)
        return try await admin.createCaseworkerToken(tenant: tenant.id, caseworker: boss.id).secret
    }
}

func inboxRequireTool(_ name: String) throws -> String {
    let path = toolPath(name)
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw RawClient.Failure(description: "\(name) not found on PATH: pip install schemathesis openapi-spec-validator")
    }
    return path
}

/// The built `inbox` executable on an ephemeral loopback port, stopped when the scope ends.
final class InboxProcess: @unchecked Sendable {
    let process = Process()
    let port: Int

    static func with<T: Sendable>(databaseURL: String, environment: [String: String] = [:], _ body: (InboxProcess) async throws -> T) async throws -> T {
        let inbox = try await InboxProcess(databaseURL: databaseURL, environment: environment)
        do {
            let result = try await body(inbox)
            let clean = inbox.stop()
            #expect(clean, "inbox did not exit within 15 s of SIGTERM")
            return result
        } catch {
            inbox.stop()
            throw error
        }
    }

    private init(databaseURL: String, environment: [String: String]) async throws {
        process.executableURL = URL(fileURLWithPath: try builtProduct("inbox"))
        process.environment = ["HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0", "DATABASE_URL": databaseURL, "LOG_LEVEL": "info"]
            .merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let handle = output.fileHandleForReading
        port = try await offPool {
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { throw RawClient.Failure(description: "inbox exited before listening") }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: 10) {
                    let line = buffer[buffer.startIndex..<newline]
                    buffer.removeSubrange(buffer.startIndex...newline)
                    if let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                       object["message"] as? String == "http server listening", let port = Int(object["port"] as? String ?? "") {
                        return port
                    }
                }
            }
        }
        handle.readabilityHandler = { _ = $0.availableData }
    }

    /// SIGTERM, then up to 15 s for a clean exit; SIGKILL after that. Returns whether it exited on SIGTERM.
    @discardableResult
    func stop() -> Bool {
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        let clean = !process.isRunning
        if !clean { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return clean
    }
}
