import Administration
import Domain
import Foundation
import HTTPTestSupport
import Postgres
import Testing
import TestSupport

/// The `intake` executable as deployed: a real process on a socket, checked by the Python tools
/// the issue names. The tools must be on PATH (`pip install schemathesis openapi-spec-validator`);
/// a missing tool fails these tests, it does not skip them.
@Suite(.serialized) struct LiveServiceTests {
    static var openAPIFile: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Services/intake/openapi.yaml").path
    }

    @Test func openAPIDocumentValidates() async throws {
        let tool = try requireTool("openapi-spec-validator")
        let run = try await runProcess(tool, [Self.openAPIFile])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("OK"))
    }

    @Test func schemathesisFindsNoServerErrorAndNoSchemaViolation() async throws {
        let tool = try requireTool("st")
        let db = try await TestDatabase.make()
        let key = try await Self.seed(db)
        try await ManagedProcess.with(product: "intake", databaseURL: db.url) { intake in
            // positive_data_acceptance is left out: the schema cannot know which service keys a
            // tenant has, so schema-valid bodies with random keys are rightly refused with 422.
            let run = try await runProcess(tool, [
                "run", "http://127.0.0.1:\(intake.port)/openapi.yaml",
                "-H", "Authorization: Bearer \(key)",
                "--checks", "all", "--exclude-checks", "positive_data_acceptance",
                "--max-examples", "60", "--seed", "20261123", "--workers", "2", "--no-color",
            ])
            #expect(run.status == 0, "\(run.stdout.suffix(6000))\(run.stderr.suffix(2000))")
            #expect(run.stdout.contains("SUMMARY"))
        }
        // The fuzzing did store some applications through the example service, all consistent.
        #expect(try await db.scalar("SELECT count(*)::int FROM applications a WHERE NOT EXISTS (SELECT 1 FROM queue_jobs j WHERE j.payload->>'application_id' = a.id::text) AND a.status = 'received'", as: Int.self) == 0)
    }

    @Test func bodiesOverTheLimitAreRefusedBeforeReadingAndTheServiceIsReady() async throws {
        let db = try await TestDatabase.make()
        let key = try await Self.seed(db)
        try await ManagedProcess.with(product: "intake", databaseURL: db.url) { intake in
            let big = try await request(port: intake.port, """
                POST /v1/applications HTTP/1.1\r
                Host: localhost\r
                Authorization: Bearer \(key)\r
                Content-Type: application/json\r
                Content-Length: \(33 << 20)\r
                Connection: close\r
                \r

                """)
            #expect(big.status == 413, "\(big.bodyText)")
            let ready = try await request(port: intake.port, "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            #expect(ready.status == 200, "\(ready.bodyText)")
            let body = #"{"service":"parking","applicant":{"name":"Max"},"form":{}}"#
            let created = try await request(port: intake.port, """
                POST /v1/applications HTTP/1.1\r
                Host: localhost\r
                Authorization: Bearer \(key)\r
                Content-Type: application/json\r
                Content-Length: \(body.utf8.count)\r
                Connection: close\r
                \r
                \(body)
                """)
            #expect(created.status == 201, "\(created.bodyText)")
            let metrics = try await request(port: intake.port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            #expect(metrics.bodyText.contains("intake_applications_accepted_total 1"))
        }
        #expect(try await db.scalar("SELECT count(*)::int FROM applications", as: Int.self) == 1)
    }

    @Test func aKeysLastUseIsRecordedAtMostOnceAMinute() async throws {
        let db = try await TestDatabase.make()
        let key = try await Self.seed(db)
        func lastUsed() async throws -> String {
            try await db.scalar("SELECT coalesce(last_used_at::text, '') FROM intake_clients", as: String.self)
        }
        #expect(try await lastUsed() == "")
        try await ManagedProcess.with(product: "intake", databaseURL: db.url) { intake in
            // An unknown application: authenticated (the key is used), then 404.
            let status = "GET /v1/applications/\(UUID()) HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(key)\r\nConnection: close\r\n\r\n"
            #expect(try await request(port: intake.port, status).status == 404)
            #expect(try await eventually(timeout: .seconds(10)) { try await lastUsed() != "" }, "last_used_at was not written")
            let first = try await lastUsed()
            // Within the minute: answered (from the key cache), but not written again.
            #expect(try await request(port: intake.port, status).status == 404)
            try await Task.sleep(for: .seconds(3))
            #expect(try await lastUsed() == first)
        }
    }

    /// A tenant with the service `parking` (the document's example) and an intake client key.
    static func seed(_ db: TestDatabase) async throws -> String {
        let admin = AdminStore(pool: db.pool)
        let tenant = try await admin.createTenant(slug: "erkelenz", name: "Stadt Erkelenz", referencePrefix: "ERK")
        _ = try await admin.createService(tenant: tenant.id, key: "parking", name: "Anwohnerparkausweis")
        return try await admin.createIntakeClient(tenant: tenant.id, name: "portal").secret
    }
}

