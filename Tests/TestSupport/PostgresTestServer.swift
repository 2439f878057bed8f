import Foundation
import HTTPTestSupport
import Logging
@_spi(Unparameterised) import Postgres
import Schema
import Synchronization

/// A private PostgreSQL server for tests and benchmarks: `initdb` and `pg_ctl` into a temporary
/// folder, listening only on a Unix socket there (as the `postgres` user when we run as root).
/// Set `AMTSWEG_TEST_DATABASE_URL` to use an existing server instead (it must allow CREATE DATABASE).
///
/// A missing server is a failure, never a skip: `start()` throws with what went wrong.
public final class PostgresTestServer: Sendable {
    public struct Options: Sendable {
        /// Durable commits (fsync on). Tests turn it off for speed; benchmarks keep it on.
        public var durable: Bool
        public var maxConnections: Int
        /// Load `pg_stat_statements` (benchmarks that want to see which statements cost).
        public var statementStatistics: Bool
        public init(durable: Bool = false, maxConnections: Int = 300, statementStatistics: Bool = false) {
            self.durable = durable
            self.maxConnections = maxConnections
            self.statementStatistics = statementStatistics
        }
    }

    /// Folder holding the data directory and the socket (nil for an external server).
    public let directory: String?
    public let port: Int
    private let externalURL: String?
    private let binDirectory: String
    private let templateTask = Mutex<Task<Void, Error>?>(nil)
    private static let templateName = "amtsweg_template"

    private init(directory: String?, port: Int, externalURL: String?, binDirectory: String) {
        self.directory = directory
        self.port = port
        self.externalURL = externalURL
        self.binDirectory = binDirectory
    }

    // MARK: The shared server of this process

    private static let sharedServer = SharedServer()

    private final class SharedServer: Sendable {
        private let task = Mutex<Task<PostgresTestServer, Error>?>(nil)
        func get() async throws -> PostgresTestServer {
            let task = self.task.withLock { task in
                if let task { return task }
                // Statement statistics on: tests count the statements of hot paths.
                let started = Task { try await PostgresTestServer.start(options: .init(statementStatistics: true)) }
                task = started
                return started
            }
            return try await task.value
        }
    }

    /// One server for the whole test process, started on first use and stopped at exit.
    public static func shared() async throws -> PostgresTestServer {
        try await sharedServer.get()
    }

    // MARK: Starting and stopping

    /// Starts a new private server (or wraps `AMTSWEG_TEST_DATABASE_URL`).
    public static func start(options: Options = .init()) async throws -> PostgresTestServer {
        if let url = ProcessInfo.processInfo.environment["AMTSWEG_TEST_DATABASE_URL"], !url.isEmpty {
            let server = PostgresTestServer(directory: nil, port: 0, externalURL: url, binDirectory: try findBinDirectory())
            try await server.createServiceRole()
            return server
        }
        let bin = try findBinDirectory()
        let base = ProcessInfo.processInfo.environment["AMTSWEG_TEST_TMPDIR"] ?? NSTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        var template = Array((base + "/amtsweg-pg-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TestServerError("cannot create a temporary folder in \(base)") }
        let directory = String(cString: made)
        let port = Int.random(in: 20_000...60_000)
        if geteuid() == 0 {
            guard let user = getpwnam("postgres") else {
                throw TestServerError("running as root but there is no 'postgres' user to run PostgreSQL as (apt-get install postgresql)")
            }
            chmod(base, 0o1777)
            chown(directory, user.pointee.pw_uid, user.pointee.pw_gid)
        }
        try await runAsServerUser(bin + "/initdb", ["-D", directory + "/data", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"], label: "initdb")
        var settings = [
            "listen_addresses = ''",
            "unix_socket_directories = '\(directory)'",
            "port = \(port)",
            "max_connections = \(options.maxConnections)",
            "shared_buffers = 128MB",
            "log_min_messages = warning",
        ]
        if !options.durable {
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        }
        if options.statementStatistics {
            settings += ["shared_preload_libraries = 'pg_stat_statements'", "pg_stat_statements.track = all"]
        }
        let configuration = settings.joined(separator: "\n") + "\n"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/data/postgresql.conf"))
        handle.seekToEndOfFile()
        handle.write(Data(configuration.utf8))
        try handle.close()
        let server = PostgresTestServer(directory: directory, port: port, externalURL: nil, binDirectory: bin)
        try await server.pgctl(["start", "-w", "-t", "60", "-l", directory + "/server.log"])
        registerForStopAtExit(server)
        try await server.createServiceRole()
        return server
    }

    /// Stops the server (fast shutdown) and removes its folder.
    public func stop() {
        guard let directory else { return }
        try? Self.runProcess(binDirectory + "/pg_ctl", ["-D", directory + "/data", "stop", "-m", "immediate", "-w"], label: "pg_ctl stop")
        try? FileManager.default.removeItem(atPath: directory)
        Self.unregister(self)
    }

    /// `pg_ctl restart -m fast`: every connection is cut, the server comes back.
    public func restart() async throws {
        guard let directory else { throw TestServerError("cannot restart an external server") }
        try await pgctl(["restart", "-m", "fast", "-w", "-t", "60", "-l", directory + "/server.log"])
    }

    /// A crash and recovery: `pg_ctl stop -m immediate` (no checkpoint; WAL still in the server's
    /// buffers — commits made with `synchronous_commit = off` in the last moments — is lost), then
    /// start, which replays the WAL.
    public func crashAndRestart() async throws {
        guard let directory else { throw TestServerError("cannot crash an external server") }
        try await pgctl(["stop", "-m", "immediate", "-w", "-t", "60"])
        try await pgctl(["start", "-w", "-t", "60", "-l", directory + "/server.log"])
    }

    // MARK: Databases

    /// The URL of the server's maintenance database.
    public var adminURL: String { url(database: "postgres") }

    public func url(database: String) -> String {
        if let externalURL {
            guard var components = URLComponents(string: externalURL) else { return externalURL }
            components.path = "/" + database
            return components.string ?? externalURL
        }
        return "postgresql://postgres@/\(database)?host=\(directory!)&port=\(port)"
    }

    /// `ownerURL` (one of ``url(database:)``'s) for the services' role (``ServiceRole/standard``,
    /// which owns nothing): how deployed services connect.
    public func serviceURL(of ownerURL: String) -> String {
        serviceURL(database: URLComponents(string: ownerURL).map { String($0.path.dropFirst()) } ?? "")
    }

    private func serviceURL(database: String) -> String {
        guard let externalURL else { return "postgresql://\(ServiceRole.standard.name)@/\(database)?host=\(directory!)&port=\(port)" }
        guard var components = URLComponents(string: externalURL) else { return externalURL }
        components.path = "/" + database
        components.user = ServiceRole.standard.name
        components.password = nil
        return components.string ?? externalURL
    }

    /// The services' role, made once per server (roles are the server's, not a database's):
    /// every migration grants it its privileges.
    private func createServiceRole() async throws {
        let admin = try await PostgresConnection.connect(PostgresConfiguration(url: adminURL, applicationName: "test-admin"))
        defer { Task { await admin.close() } }
        do {
            try await admin.runUnchecked("CREATE ROLE \(ServiceRole.standard.name) LOGIN")
        } catch let error as PostgresError where error.sqlState == "42710" {}  // made by an earlier run
    }

    /// A new empty database with every migration applied, cloned from a template made once.
    /// - Parameter name: the database's name (lowercase letters, digits, `_`); a random one when nil.
    public func makeDatabase(migrated: Bool = true, name: String? = nil) async throws -> String {
        let name = name ?? "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        precondition(name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }, "database name \(name)")
        let admin = try await PostgresConnection.connect(PostgresConfiguration(url: adminURL, applicationName: "test-admin"))
        defer { Task { await admin.close() } }
        if migrated { try await ensureTemplate() }
        let template = migrated ? Self.templateName : "template0"
        try await admin.runUnchecked("CREATE DATABASE \(name) TEMPLATE \(template)")
        return url(database: name)
    }

    /// Creates the migrated template database once; concurrent callers wait for the same work.
    private func ensureTemplate() async throws {
        let task = templateTask.withLock { task -> Task<Void, Error> in
            if let task { return task }
            let created = Task {
                let logger = Logger(service: "test", minimumLevel: .warning)
                let admin = try await PostgresConnection.connect(PostgresConfiguration(url: self.adminURL, applicationName: "test-admin"))
                try await admin.runUnchecked("DROP DATABASE IF EXISTS \(Self.templateName)")
                try await admin.runUnchecked("CREATE DATABASE \(Self.templateName) TEMPLATE template0")
                await admin.close()
                let pool = PostgresPool(configuration: PostgresConfiguration(url: self.url(database: Self.templateName)), pool: .init(maxConnections: 1), logger: logger)
                try await Migrator(logger: logger).migrate(pool)
                await pool.close()
            }
            task = created
            return created
        }
        try await task.value
    }

    // MARK: Processes

    private func pgctl(_ arguments: [String]) async throws {
        try await Self.runAsServerUser(binDirectory + "/pg_ctl", ["-D", directory! + "/data"] + arguments, label: "pg_ctl \(arguments[0])")
    }

    /// Runs a server command on a thread of its own: waiting for a process must never block
    /// Swift's cooperative thread pool.
    static func runAsServerUser(_ executable: String, _ arguments: [String], label: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let thread = Thread {
                continuation.resume(with: Result { try runProcess(executable, arguments, label: label) })
            }
            thread.start()
        }
    }

    /// Runs a server command and waits (blocking). Uses `posix_spawn` and `waitpid` directly:
    /// output goes to a file, not a pipe, because `pg_ctl start` leaves the server holding it.
    static func runProcess(_ executable: String, _ arguments: [String], label: String) throws {
        let command = geteuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", executable] + arguments : [executable] + arguments
        let outputPath = NSTemporaryDirectory() + "/amtsweg-pgcmd-\(UUID().uuidString).log"
        defer { unlink(outputPath) }
        let status = reap(try spawn(command, outputPath: outputPath))
        guard status == 0 else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            throw TestServerError("\(label) failed (wait status \(status)): \(text)")
        }
    }

    static func findBinDirectory() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["PG_BIN"], !configured.isEmpty { return configured }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap { Int($0) }.sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        throw TestServerError("no PostgreSQL server binaries under \(root) (apt-get install postgresql) and PG_BIN is not set")
    }

    // MARK: Stop at exit

    private static let running = Mutex<[ObjectIdentifier: PostgresTestServer]>([:])

    private static func registerForStopAtExit(_ server: PostgresTestServer) {
        let first = running.withLock { all -> Bool in
            all[ObjectIdentifier(server)] = server
            return all.count == 1
        }
        if first { atexit { PostgresTestServer.stopAll() } }
    }

    private static func unregister(_ server: PostgresTestServer) {
        _ = running.withLock { $0.removeValue(forKey: ObjectIdentifier(server)) }
    }

    static func stopAll() {
        let servers = running.withLock { Array($0.values) }
        for server in servers { server.stop() }
    }
}

public struct TestServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
