import Foundation
import Postgres
import Testing
import TestSupport

@Suite struct PostgresListenerTests {
    @Test func deliversNotificationsAndResubscribesAfterTheSessionIsKilled() async throws {
        let db = try await TestDatabase.make()
        let listener = PostgresListener(configuration: db.configuration, logger: db.logger, reconnectDelay: .milliseconds(50))
        defer { listener.stop() }
        let events = try await listener.subscribe(to: ["inbox.area-1"])
        var iterator = events.makeAsyncIterator()

        try await db.pool.query("SELECT pg_notify('inbox.area-1', 'first')")
        try await db.pool.query("SELECT pg_notify('other-channel', 'not for us')")
        #expect(await iterator.next() == .notification(channel: "inbox.area-1", payload: "first"))

        // Kill the listening session: the listener reconnects, LISTENs again and says so.
        let killed = try await db.scalar(
            "SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity WHERE application_name = 'test-listener' AND datname = current_database()",
            as: Int.self
        )
        #expect(killed == 1)
        #expect(await iterator.next() == .reconnected)
        try await db.pool.query("SELECT pg_notify('inbox.area-1', 'second')")
        #expect(await iterator.next() == .notification(channel: "inbox.area-1", payload: "second"))
    }

    @Test func invalidChannelNamesAreRefused() async throws {
        let db = try await TestDatabase.make()
        let listener = PostgresListener(configuration: db.configuration, logger: db.logger)
        defer { listener.stop() }
        await #expect(throws: PostgresError.self) { _ = try await listener.subscribe(to: ["bad\"; DROP TABLE x; --"]) }
    }
}
