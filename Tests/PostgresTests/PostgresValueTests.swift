import Foundation
import Postgres
import Testing
import TestSupport

@Suite struct PostgresValueTests {
    struct Form: Codable, Equatable, Sendable {
        var name: String
        var count: Int
        var tags: [String]
    }

    @Test func fragmentsComposeWithTheirParametersRenumbered() async throws {
        let inner: SQLQuery = "SELECT \(7)::int AS n, \("$1 stays text")::text AS label"
        let outer: SQLQuery = "WITH x AS (\(fragment: inner)) SELECT n + \(35)::int AS total, label, \("after")::text AS tail FROM x"
        #expect(outer.sql == "WITH x AS (SELECT $1::int AS n, $2::text AS label) SELECT n + $3::int AS total, label, $4::text AS tail FROM x")
        #expect(outer.parameters.count == 4)
        let joined = SQLQuery.joined([inner, "SELECT \(1)::int, \("b")::text"], separator: " UNION ALL ")
        #expect(joined.sql == "SELECT $1::int AS n, $2::text AS label UNION ALL SELECT $3::int, $4::text")
        #expect(SQLQuery.joined([], separator: ", ").sql.isEmpty)
        let db = try await TestDatabase.make()
        let row = try #require(try await db.pool.query(outer).first)
        #expect(try row.decode("total", as: Int.self) == 42)
        #expect(try row.decode("label", as: String.self) == "$1 stays text")
        #expect(try row.decode("tail", as: String.self) == "after")
        #expect(try await db.pool.query(joined).count == 2)
    }

    @Test func valuesRoundTripThroughTheServer() async throws {
        let db = try await TestDatabase.make()
        let id = UUID()
        let when = Date(timeIntervalSince1970: 1_795_000_000.123456)
        let blob = Data([0, 1, 2, 255, 0, 92, 120])
        let text = "Müller-Lüdenscheidt \"quoted\" \\ back ß €"
        let rows = try await db.pool.query("""
            SELECT \(42)::int AS i, \(Int64.max)::bigint AS big, \(3.25)::float8 AS d, \(true)::bool AS b,
                   \(text)::text AS s, \(id)::uuid AS u, \(when)::timestamptz AS t, \(blob)::bytea AS bytes,
                   \(PostgresJSON(Form(name: "Köln", count: 2, tags: ["a", "b"])))::jsonb AS form,
                   \([Int64(1), 2, 3])::bigint[] AS ints, \(["a b", "c\"d", "e\\f"])::text[] AS strings,
                   \(Optional<Int>.none)::int AS nothing
            """)
        let row = try #require(rows.first)
        #expect(try row.decode("i", as: Int.self) == 42)
        #expect(try row.decode("big", as: Int64.self) == Int64.max)
        #expect(try row.decode("d", as: Double.self) == 3.25)
        #expect(try row.decode("b", as: Bool.self) == true)
        #expect(try row.decode("s", as: String.self) == text)
        #expect(try row.decode("u", as: UUID.self) == id)
        let decodedDate = try row.decode("t", as: Date.self)
        #expect(abs(decodedDate.timeIntervalSince1970 - when.timeIntervalSince1970) < 0.000_002)
        #expect(try row.decode("bytes", as: Data.self) == blob)
        #expect(try row.decodeJSON("form", as: Form.self) == Form(name: "Köln", count: 2, tags: ["a", "b"]))
        #expect(try row.decode("ints", as: [Int64].self) == [1, 2, 3])
        #expect(try row.decode("strings", as: [String].self) == ["a b", "c\"d", "e\\f"])
        #expect(try row.decode("nothing", as: Int?.self) == nil)
        #expect(throws: PostgresError.self) { try row.decode("nothing", as: Int.self) }
        #expect(throws: PostgresError.self) { try row.decode("no_such_column", as: Int.self) }
    }

    @Test func datesBeforeYearOneRoundTripInsteadOfFailing() async throws {
        // PostgreSQL has no year 0; such dates (e.g. from a client's `from=0001-01-01`, which
        // the Julian calendar puts into 1 BC) are written with "BC".
        let db = try await TestDatabase.make()
        for seconds in [-62_135_596_800.0 - 86_400 * 3, -62_135_596_800.0 + 32_401, -80_000_000_000.0] {
            let date = Date(timeIntervalSince1970: seconds)
            let back = try await db.scalar("SELECT \(date)::timestamptz", as: Date.self)
            #expect(back == date)
            let year = try await db.scalar("SELECT extract(year FROM \(date)::timestamptz)::int", as: Int.self)
            #expect(year != 0)
        }
    }

    @Test func largeBinaryParameterRoundTrips() async throws {
        let db = try await TestDatabase.make()
        let blob = Data((0..<(3 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let back = try await db.scalar("SELECT \(blob)::bytea", as: Data.self)
        #expect(back == blob)
    }

    @Test func serverErrorsCarrySQLStateAndConstraintButDescriptionHidesValues() async throws {
        let db = try await TestDatabase.make()
        try await db.pool.query("CREATE TABLE people (email text CONSTRAINT people_email_key UNIQUE)")
        try await db.pool.query("INSERT INTO people VALUES (\("erika@example.org"))")
        do {
            try await db.pool.query("INSERT INTO people VALUES (\("erika@example.org"))")
            Issue.record("duplicate insert succeeded")
        } catch let error as PostgresError {
            #expect(error.isUniqueViolation)
            #expect(error.code == .server)
            #expect(error.constraint == "people_email_key")
            #expect(error.detail?.contains("erika@example.org") == true)
            #expect(!error.description.contains("erika"))
            #expect(error.debugDescription.contains("erika"))
        }
    }

    @Test func textWithNULIsRefusedBeforeItIsSent() async throws {
        let db = try await TestDatabase.make()
        await #expect(throws: PostgresError.self) {
            try await db.pool.query("SELECT \("a\u{0}b")::text")
        }
        #expect(try await db.scalar("SELECT 1", as: Int.self) == 1)
    }

    @Test func invalidURLIsAConfigurationError() async throws {
        do {
            _ = try await PostgresConnection.connect(PostgresConfiguration(url: "host=localhost port=notanumber= x"))
            Issue.record("connected with a broken URL")
        } catch let error as PostgresError {
            #expect(error.code == .invalidConfiguration || error.code == .connectionFailed)
        }
    }

    @Test func sessionIsSetUpFromConfiguration() async throws {
        let db = try await TestDatabase.make()
        var configuration = db.configuration
        configuration.applicationName = "routing"
        configuration.statementTimeoutMilliseconds = 1234
        let connection = try await PostgresConnection.connect(configuration)
        let rows = try await connection.query("SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS timeout, current_setting('TimeZone') AS zone")
        #expect(try rows[0].decode("app", as: String.self) == "routing")
        #expect(try rows[0].decode("timeout", as: String.self) == "1234ms")
        #expect(try rows[0].decode("zone", as: String.self) == "UTC")
        await #expect(throws: PostgresError.self) { try await connection.query("SELECT pg_sleep(2)") }
        #expect(try await connection.query("SELECT current_setting('plan_cache_mode') AS mode")[0].decode("mode", as: String.self) == "auto")
        // Durable commits even though the test server's default is synchronous_commit = off.
        #expect(try await connection.query("SELECT current_setting('synchronous_commit') AS s")[0].decode("s", as: String.self) == "on")
        await connection.close()

        configuration.customPlans = true
        configuration.synchronousCommit = false
        let planning = try await PostgresConnection.connect(configuration)
        #expect(try await planning.query("SELECT current_setting('plan_cache_mode') AS mode")[0].decode("mode", as: String.self) == "force_custom_plan")
        #expect(try await planning.query("SELECT current_setting('synchronous_commit') AS s")[0].decode("s", as: String.self) == "off")
        await planning.close()
    }
}
