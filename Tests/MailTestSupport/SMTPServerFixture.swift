import Foundation
// offPool, toolPath, spawn, reap and FixtureError come from the HTTP test support, shared by every
// process-driving test.
@_exported import HTTPTestSupport


/// The folder of this file's fixtures, `Tests/Fixtures/smtp`.
public let smtpFixtureDirectory: String = {
    let file = URL(fileURLWithPath: #filePath)
    return file.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/smtp").path
}()


/// Runs a command to its end, off the pool; throws when it fails.
@discardableResult
public func run(_ arguments: [String], in directory: String) async throws -> String {
    try await offPool {
        let output = "\(directory)/command-\(UUID().uuidString).log"
        let status = reap(try spawn(arguments, outputPath: output))
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw FixtureError("\(arguments.joined(separator: " ")) failed (\(status)): \(text)") }
        return text
    }
}

/// A fresh temporary folder.
public func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "amtsweg-mail-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A self-signed certificate for `localhost` and 127.0.0.1, made with openssl at test time.
public struct TestCertificate: Sendable {
    public var certificate: String
    public var key: String

    public static func make(in directory: String) async throws -> TestCertificate {
        let certificate = "\(directory)/cert.pem", key = "\(directory)/key.pem"
        try await run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ], in: directory)
        return TestCertificate(certificate: certificate, key: key)
    }
}

/// aiosmtpd in a process of its own (Tests/Fixtures/smtp/smtp_server.py). Use ``with(_:_:)``,
/// which never leaves the server behind.
public final class SMTPServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var failTemporarily = 0
        public var failPermanently = false
        public var auth: (user: String, password: String)?
        public var certificate: TestCertificate?
        /// With `certificate`: TLS from the first byte (`smtps://`) instead of STARTTLS.
        public var implicitTLS = false
        public var save = true
        public var port = 0
        /// Recipients at these domains are refused with 550 (a permanent fault for them only).
        public var rejectDomains: [String] = []
        /// Write `journal.jsonl` (one line per accepted message; see ``journal()``).
        public var journal = false
        /// Seconds the server waits before answering each RCPT (0 = none).
        public var rcptDelay: Double = 0
        /// Rewrite stats.json every this many seconds instead of on every event (0 = on every event).
        public var statsInterval: Double = 0
        public init() {}
    }

    public struct Stats: Decodable {
        public var connections: Int
        public var open: Int
        public var messages: Int
        public var rcpt_rejected: Int
        public var ehlo: Int
        public var auth: Int
        public var tls: Int
    }

    public let spool: String
    public private(set) var port: Int
    private var pid: pid_t?
    private let options: Options

    public static func with<T: Sendable>(_ options: Options = Options(), _ body: (SMTPServer) async throws -> T) async throws -> T {
        let server = try await SMTPServer(options)
        defer { server.stop() }
        return try await body(server)
    }

    private init(_ options: Options) async throws {
        self.options = options
        spool = try makeTemporaryDirectory()
        port = options.port
        try await start()
    }

    /// Starts the server again (on the same port after ``stop()``).
    public func start() async throws {
        var arguments = ["python3", "\(smtpFixtureDirectory)/smtp_server.py", "--spool", spool, "--port", "\(port)"]
        if options.failTemporarily > 0 { arguments += ["--fail-temp", "\(options.failTemporarily)"] }
        if options.failPermanently { arguments.append("--fail-perm") }
        if let auth = options.auth { arguments += ["--auth", "\(auth.user):\(auth.password)"] }
        if let certificate = options.certificate { arguments += ["--tls-cert", certificate.certificate, "--tls-key", certificate.key] }
        if options.implicitTLS { arguments.append("--implicit-tls") }
        if !options.save { arguments.append("--no-save") }
        for domain in options.rejectDomains { arguments += ["--reject-domain", domain] }
        if options.journal { arguments.append("--journal") }
        if options.rcptDelay > 0 { arguments += ["--rcpt-delay", "\(options.rcptDelay)"] }
        if options.statsInterval > 0 { arguments += ["--stats-interval", "\(options.statsInterval)"] }
        let log = "\(spool)/server-\(UUID().uuidString).log"
        let pid = try spawn(arguments, outputPath: log)
        ChildProcesses.register(pid)
        self.pid = pid
        port = try await offPool {
            for _ in 0..<300 {
                if let text = try? String(contentsOfFile: log, encoding: .utf8),
                   let line = text.split(separator: "\n").first(where: { $0.hasPrefix("LISTENING ") }),
                   let port = Int(line.dropFirst("LISTENING ".count)) {
                    return port
                }
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    throw FixtureError("SMTP fixture exited: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
                }
                usleep(50_000)
            }
            throw FixtureError("SMTP fixture did not start within 15 s")
        }
    }

    /// SIGKILL and reap.
    public func stop() {
        guard let pid else { return }
        kill(pid, SIGKILL)
        reap(pid)
        ChildProcesses.unregister(pid)
        self.pid = nil
    }

    public var url: String { "\(options.implicitTLS ? "smtps" : "smtp")://127.0.0.1:\(port)" }

    public func stats() throws -> Stats {
        try JSONDecoder().decode(Stats.self, from: Data(contentsOf: URL(fileURLWithPath: "\(spool)/stats.json")))
    }

    /// Paths of the saved messages, oldest first.
    public func messages() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: spool).filter { $0.hasSuffix(".eml") }.sorted().map { "\(spool)/\($0)" }
    }
}

/// One accepted message in the server's journal (`Options.journal`).
public struct SMTPJournalEntry: Decodable, Sendable {
    /// When the server accepted it, in seconds since 1970.
    public var time: Double
    public var message_id: String
    public var subject: String
    public var to: [String]
}

extension SMTPServer {
    /// The journal's entries in the order the server accepted them (a line still being written is left out).
    public func journal() throws -> [SMTPJournalEntry] {
        try journal(from: 0).entries
    }

    /// The entries from byte `offset` of the journal on, and the offset to read from next time
    /// (a line still being written is left for then).
    public func journal(from offset: UInt64) throws -> (entries: [SMTPJournalEntry], next: UInt64) {
        guard let handle = FileHandle(forReadingAtPath: "\(spool)/journal.jsonl") else { return ([], offset) }
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        let data = handle.readDataToEndOfFile()
        guard let lastNewline = data.lastIndex(of: 10) else { return ([], offset) }
        let complete = data[data.startIndex...lastNewline]
        let decoder = JSONDecoder()
        let entries = complete.split(separator: 10).compactMap { try? decoder.decode(SMTPJournalEntry.self, from: Data($0)) }
        return (entries, offset + UInt64(complete.count))
    }
}

/// A message as Python's `email` package sees it (Tests/Fixtures/smtp/parse_message.py).
public struct ParsedMessage: Decodable, Sendable {
    public var subject: String
    public var raw_headers: String
    public var from: String
    public var from_address: String
    public var from_name: String
    public var to: [String]
    public var date: String
    public var date_parsed: Bool
    public var message_id: String
    public var auto_submitted: String
    public var mime_version: String
    public var content_type: String
    public var charset: String?
    public var cte: String
    public var body: String
    public var defects: [String]
    public var only_crlf: Bool
    public var max_line: Int
    public var ascii_only: Bool

    public static func parse(_ path: String) async throws -> ParsedMessage {
        let output = try await run(["python3", "\(smtpFixtureDirectory)/parse_message.py", path], in: NSTemporaryDirectory())
        return try JSONDecoder().decode(ParsedMessage.self, from: Data(output.utf8))
    }
}
