import Administration
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
        let tool = try requireTool("openapi-spec-validator")
        let run = try await runProcess(tool, [Self.openAPIFile])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("OK"))
        let file = Array(try Data(contentsOf: URL(fileURLWithPath: Self.openAPIFile)))
        #expect(file.starts(with: Array("openapi: 3.1".utf8)))
        // Byte for byte: the served document is compiled in from this file at build time (Plugins/EmbedFiles).
        let served = try await InboxHarness.with { h in try await h.request("GET", "/openapi.yaml", token: nil) }
        #expect(served.status == 200)
        #expect(served.header("Content-Type")?.hasPrefix("application/yaml") == true)
        #expect(served.body == file)
    }

    @Test("schemathesis against the running service, as an admin: no 5xx")
    func schemathesis() async throws {
        let tool = try requireTool("st")
        let db = try await TestDatabase.make()
        let token = try await Self.seed(db)
        // Long-polls are held at most 2 s here, so fuzzed `wait` values stay under schemathesis' request timeout.
        try await ManagedProcess.with(product: "inbox", databaseURL: db.url, environment: ["LONG_POLL_MAX_SECONDS": "2"], requireCleanExit: true) { inbox in
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

    @Test("a token's last use is recorded, at most once a minute")
    func tokenLastUse() async throws {
        let db = try await TestDatabase.make()
        let token = try await Self.seed(db)
        func lastUsed() async throws -> String {
            try await db.scalar("SELECT coalesce(last_used_at::text, '') FROM caseworker_tokens", as: String.self)
        }
        #expect(try await lastUsed() == "")
        try await ManagedProcess.with(product: "inbox", databaseURL: db.url) { inbox in
            let me = try await APIClient(port: inbox.port, token: token).call("GET", "/v1/me")
            #expect(me.status == 200, "\(me)")
            #expect(try await eventually(timeout: .seconds(10)) { try await lastUsed() != "" }, "last_used_at was not written")
            let first = try await lastUsed()
            // Within the minute: answered, but not written again.
            #expect(try await APIClient(port: inbox.port, token: token).call("GET", "/v1/me").status == 200)
            try await Task.sleep(for: .seconds(3))
            #expect(try await lastUsed() == first)
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
