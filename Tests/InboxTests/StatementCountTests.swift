import Domain
import Foundation
import Postgres
import Testing
import TestSupport

/// How many statements the database runs for one caseworker action, read from
/// `pg_stat_statements` for this test's database alone.
@Suite("Statements per caseworker action", .serialized)
struct StatementCountTests {
    /// Statements in this database since `reset`, leaving out the request's authentication (one
    /// indexed read per request, not part of the action), credential bookkeeping and the
    /// after-commit wake-ups (`pg_notify`, sent by the notifiers for many transactions at once).
    /// Only top-level statements: foreign-key checks inside a statement are not round trips.
    static func statements(_ h: InboxHarness) async throws -> [(query: String, calls: Int)] {
        try await h.db.pool.query("""
            SELECT query, calls::integer AS calls FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND toplevel AND query NOT ILIKE '%pg_stat_statements%' AND query NOT ILIKE '%caseworker_tokens%'
              AND query NOT ILIKE '%pg_notify%' AND query NOT ILIKE 'LISTEN%'
            ORDER BY query
            """).map { (try $0.decode("query", as: String.self), try $0.decode("calls", as: Int.self)) }
    }

    static func reset(_ h: InboxHarness) async throws {
        try await h.db.pool.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        try await h.db.pool.query("""
            SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)
            """)
    }

    @Test("a claim takes at most three statements, BEGIN and COMMIT included, status message and its job with it")
    func claim() async throws {
        try await InboxHarness.with { h in
            let id = try await h.makeApplication(area: h.north)
            let path = "/v1/applications/\(id.uuidString.lowercased())"
            // Warm up: the first request of a connection reads catalogue data once.
            let other = try await h.makeApplication(area: h.north)
            #expect(try await h.post("/v1/applications/\(other.uuidString.lowercased())/claim", as: h.cw1, ifMatch: try await h.version(of: other)).status == 200)
            let version = try await h.version(of: id)
            try await Self.reset(h)
            let claimed = try await h.post("\(path)/claim", as: h.cw1, ifMatch: version)
            #expect(claimed.status == 200, "\(claimed.text)")
            let statements = try await Self.statements(h)
            let total = statements.reduce(0) { $0 + $1.calls }
            #expect(total <= 3, "\(statements.map { "\($0.calls)× \($0.query.prefix(120))" }.joined(separator: "\n"))")
            // And it did everything a claim does.
            #expect(try await h.status(of: id) == "in_progress")
            #expect(try await h.count("SELECT count(*)::integer FROM timeline_events WHERE application_id = \(id) AND kind = 'claimed'") == 1)
            #expect(try await h.count("SELECT count(*)::integer FROM audit_log WHERE application_id = \(id) AND action = 'application.claim'") == 1)
            #expect(try await h.count("""
                SELECT count(*)::integer FROM messages WHERE application_id = \(id) AND kind = 'status' AND postbox_status = 'PROCESSING'
                """) == 1)
            #expect(try await h.count("SELECT count(*)::integer FROM queue_jobs WHERE queue = 'citizen-outbox'") == 2)
        }
    }
}
