import Administration
import Domain
import Foundation
import Logging
import Postgres
import Testing
import TestSupport

/// `CredentialUseRecorder`: uses are noted in memory and written in the background, at most once
/// per interval per credential; failures are logged, never thrown.
@Suite struct CredentialUseRecorderTests {
    struct Fixture {
        var db: TestDatabase
        var clients: [UUID]
        var token: UUID
    }

    static func fixture(clients: Int = 1) async throws -> Fixture {
        let db = try await TestDatabase.make()
        let admin = AdminStore(pool: db.pool)
        let tenant = try await admin.createTenant(slug: "erkelenz", name: "Stadt Erkelenz", referencePrefix: "ERK")
        var ids: [UUID] = []
        for number in 0..<clients { ids.append(try await admin.createIntakeClient(tenant: tenant.id, name: "portal \(number)").id) }
        let caseworker = try await admin.createCaseworker(tenant: tenant.id, name: "Anna", email: "anna@example.de", roles: [.caseworker])
        let token = try await admin.createCaseworkerToken(tenant: tenant.id, caseworker: caseworker.id).id
        return Fixture(db: db, clients: ids, token: token)
    }

    static func lastUsed(_ db: TestDatabase, client id: UUID) async throws -> String {
        try await db.scalar("SELECT coalesce(last_used_at::text, '') FROM intake_clients WHERE id = \(id)", as: String.self)
    }

    static func lastUsed(_ db: TestDatabase, token id: UUID) async throws -> String {
        try await db.scalar("SELECT coalesce(last_used_at::text, '') FROM caseworker_tokens WHERE id = \(id)", as: String.self)
    }

    @Test func aUseIsWrittenOnceWithinTheInterval() async throws {
        let f = try await Self.fixture()
        let recorder = CredentialUseRecorder(.intakeClientKey, pool: f.db.pool, logger: f.db.logger)
        let client = f.clients[0]
        recorder.record(client)
        recorder.record(client)
        #expect(try await Self.lastUsed(f.db, client: client) == "", "noted only, not written yet")
        await recorder.flush()
        let first = try await Self.lastUsed(f.db, client: client)
        #expect(first != "")
        recorder.record(client)
        await recorder.flush()
        #expect(try await Self.lastUsed(f.db, client: client) == first)
    }

    @Test func afterTheIntervalAUseIsWrittenAgain() async throws {
        let f = try await Self.fixture()
        let recorder = CredentialUseRecorder(.caseworkerToken, pool: f.db.pool, logger: f.db.logger, minimumInterval: .milliseconds(50))
        recorder.record(f.token)
        await recorder.flush()
        let first = try await Self.lastUsed(f.db, token: f.token)
        #expect(first != "")
        try await Task.sleep(for: .milliseconds(100))
        recorder.record(f.token)
        await recorder.flush()
        let second = try await Self.lastUsed(f.db, token: f.token)
        #expect(second != "" && second != first)
    }

    @Test func aFailedWriteIsLoggedNotThrownAndTheNextUseTriesAgain() async throws {
        let f = try await Self.fixture()
        let sink = MemoryLogSink()
        let recorder = CredentialUseRecorder(.intakeClientKey, pool: f.db.pool, logger: Logger(service: "test", sink: sink))
        let client = f.clients[0]
        try await f.db.pool.query("ALTER TABLE intake_clients ADD CONSTRAINT never_used CHECK (last_used_at IS NULL) NOT VALID")
        recorder.record(client)
        await recorder.flush()
        #expect(sink.lines.contains { $0.contains("recording the last use of credentials failed") && $0.contains("\"count\":\"1\"") })
        #expect(try await Self.lastUsed(f.db, client: client) == "")
        try await f.db.pool.query("ALTER TABLE intake_clients DROP CONSTRAINT never_used")
        recorder.record(client)  // within the minute, but the failed write was forgotten
        await recorder.flush()
        #expect(try await Self.lastUsed(f.db, client: client) != "")
    }

    @Test func shutdownWritesWhatIsNoted() async throws {
        let f = try await Self.fixture()
        let recorder = CredentialUseRecorder(.intakeClientKey, pool: f.db.pool, logger: f.db.logger, flushInterval: .seconds(3600))
        recorder.record(f.clients[0])
        await recorder.run(until: {})  // shutdown at once: before the first round
        #expect(try await Self.lastUsed(f.db, client: f.clients[0]) != "")
    }

    @Test func theBackgroundLoopWritesAllNotedInOneRound() async throws {
        let f = try await Self.fixture(clients: 3)
        let recorder = CredentialUseRecorder(.intakeClientKey, pool: f.db.pool, logger: f.db.logger, flushInterval: .milliseconds(20))
        let stop = ShutdownFlag()
        let loop = Task { await recorder.run(until: { await stop.wait() }) }
        for client in f.clients { recorder.record(client) }
        let written = try await eventually(timeout: .seconds(10)) {
            try await f.db.scalar("SELECT count(*)::int FROM intake_clients WHERE last_used_at IS NOT NULL", as: Int.self) == 3
        }
        #expect(written)
        stop.trigger()
        await loop.value
    }

    @Test func atMostMaxTrackedCredentialsAreRemembered() async throws {
        let f = try await Self.fixture(clients: 3)
        let sink = MemoryLogSink()
        let recorder = CredentialUseRecorder(.intakeClientKey, pool: f.db.pool, logger: Logger(service: "test", sink: sink), maxTracked: 2)
        for client in f.clients { recorder.record(client) }
        await recorder.flush()
        #expect(try await Self.lastUsed(f.db, client: f.clients[0]) != "")
        #expect(try await Self.lastUsed(f.db, client: f.clients[1]) != "")
        #expect(try await Self.lastUsed(f.db, client: f.clients[2]) == "")
        #expect(sink.lines.contains { $0.contains("credential uses not recorded") && $0.contains("\"skipped\":\"1\"") })
    }
}

/// A one-way flag a test can wait on.
final class ShutdownFlag: Sendable {
    private let stream = AsyncStream<Void>.makeStream()
    func trigger() { stream.continuation.finish() }
    func wait() async { for await _ in stream.stream {} }

    @Test func aTokenCannotBeCreatedExpired() async throws {
        let fixture = try await CredentialUseRecorderTests.fixture(clients: 1)
        let admin = AdminStore(pool: fixture.db.pool)
        let tenant = try await fixture.db.scalar("SELECT tenant_id FROM caseworkers LIMIT 1", as: UUID.self)
        let caseworker = try await fixture.db.scalar("SELECT id FROM caseworkers LIMIT 1", as: UUID.self)
        let refused = try #require(await #expect(throws: AdminError.self) {
            try await admin.createCaseworkerToken(tenant: tenant, caseworker: caseworker, expiresAt: Date().addingTimeInterval(-60))
        })
        #expect(refused.description.contains("expires_at"), "\(refused)")
        #expect(try await fixture.db.scalar("SELECT count(*) FROM caseworker_tokens", as: Int.self) == 1)
        _ = try await admin.createCaseworkerToken(tenant: tenant, caseworker: caseworker, expiresAt: Date().addingTimeInterval(3600))
    }
}
