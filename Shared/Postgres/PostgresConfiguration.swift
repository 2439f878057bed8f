import CLibPQ

/// How to reach the database and how each session is set up.
///
/// `url` is anything libpq accepts: a `postgresql://` URI or `key=value` pairs. Settings given in
/// the URL win over the defaults below.
public struct PostgresConfiguration: Sendable {
    public var url: String
    /// Reported in `pg_stat_activity`; use the service's name.
    public var applicationName: String
    /// Seconds to wait for a connection to open (libpq `connect_timeout`).
    public var connectTimeoutSeconds: Int
    /// TCP keepalive idle seconds before probing a silent server.
    public var keepaliveIdleSeconds: Int
    /// Session `statement_timeout` in milliseconds; 0 disables it.
    public var statementTimeoutMilliseconds: Int
    /// Session `idle_in_transaction_session_timeout` in milliseconds; 0 disables it.
    public var idleInTransactionTimeoutMilliseconds: Int
    /// Plan every execution of a prepared statement for its parameters
    /// (`plan_cache_mode = force_custom_plan`). Statements are prepared once per session, and after
    /// five runs PostgreSQL may switch to one generic plan; for queries with optional filters
    /// (`$1 IS NULL OR …`) that plan cannot use the index the values call for (the inbox page went
    /// from 2 ms to 320 ms at 5,000 applications). Costs a plan per execution; off by default.
    public var customPlans: Bool
    /// `synchronous_commit` of every session, whatever the server's default: on (default), a commit
    /// returns once its WAL is on disk. Off spares the flush (PostgreSQL writes it within
    /// `wal_writer_delay`, 200 ms); a crash of the database can lose those last commits. Only for
    /// work whose loss is harmless, e.g. the job queue's bookkeeping (`QueueConsumer`'s
    /// `bookkeepingPool`).
    public var synchronousCommit: Bool

    public init(
        url: String,
        applicationName: String = "amtsweg",
        connectTimeoutSeconds: Int = 5,
        keepaliveIdleSeconds: Int = 30,
        statementTimeoutMilliseconds: Int = 30_000,
        idleInTransactionTimeoutMilliseconds: Int = 60_000,
        customPlans: Bool = false,
        synchronousCommit: Bool = true
    ) {
        self.url = url
        self.applicationName = applicationName
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.keepaliveIdleSeconds = keepaliveIdleSeconds
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
        self.idleInTransactionTimeoutMilliseconds = idleInTransactionTimeoutMilliseconds
        self.customPlans = customPlans
        self.synchronousCommit = synchronousCommit
    }

    /// The libpq keywords and values to connect with: the URL's own settings, then our defaults
    /// for whatever it leaves unset. Throws `.invalidConfiguration` when libpq cannot parse it.
    func connectionParameters() throws -> [(String, String)] {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &errorMessage) else {
            let reason = errorMessage.map { String(cString: $0) } ?? "unparseable"
            if let errorMessage { PQfreemem(errorMessage) }
            throw PostgresError(code: .invalidConfiguration, message: "DATABASE_URL is not a valid libpq connection string: \(reason)")
        }
        defer { PQconninfoFree(options) }
        var given: [(String, String)] = []
        var cursor = options
        while let keyword = cursor.pointee.keyword {
            if let value = cursor.pointee.val {
                given.append((String(cString: keyword), String(cString: value)))
            }
            cursor += 1
        }
        let present = Set(given.map(\.0))
        var sessionOptions = "-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3"
        if statementTimeoutMilliseconds > 0 { sessionOptions += " -c statement_timeout=\(statementTimeoutMilliseconds)" }
        if idleInTransactionTimeoutMilliseconds > 0 {
            sessionOptions += " -c idle_in_transaction_session_timeout=\(idleInTransactionTimeoutMilliseconds)"
        }
        if customPlans { sessionOptions += " -c plan_cache_mode=force_custom_plan" }
        // Always explicit: an accepted application must not depend on the server's default.
        sessionOptions += synchronousCommit ? " -c synchronous_commit=on" : " -c synchronous_commit=off"
        let defaults: [(String, String)] = [
            ("application_name", applicationName),
            ("connect_timeout", String(connectTimeoutSeconds)),
            ("keepalives", "1"),
            ("keepalives_idle", String(keepaliveIdleSeconds)),
            ("keepalives_interval", "10"),
            ("keepalives_count", "3"),
            ("client_encoding", "UTF8"),
        ]
        var result = given.filter { $0.0 != "options" }
        for (key, value) in defaults where !present.contains(key) { result.append((key, value)) }
        // Our session settings come first so that options given in the URL override them.
        let urlOptions = given.first { $0.0 == "options" }?.1
        result.append(("options", urlOptions.map { sessionOptions + " " + $0 } ?? sessionOptions))
        return result
    }
}
