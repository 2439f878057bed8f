import Foundation
import Synchronization

/// One of Amtsweg's executables (or the postbox sandbox) running as a child process on a fixed
/// loopback port, so that it can be SIGKILLed and started again where its clients expect it.
/// Output is appended to `logPath` across restarts.
public final class ManagedProcess: @unchecked Sendable {
    public let name: String
    public let port: Int
    public let logPath: String
    private let executable: String
    private let environment: [String: String]
    private let state = Mutex<pid_t?>(nil)

    /// `product` (an executable of this package) as `name`, on `port`, with `environment` added to
    /// this process's; not started yet.
    public init(name: String, product: String, port: Int, environment: [String: String], logDirectory: String) throws {
        self.name = name
        self.port = port
        self.executable = try builtProduct(product)
        self.environment = environment.merging(["HTTP_HOST": "127.0.0.1", "HTTP_PORT": "\(port)"]) { $1 }
        self.logPath = "\(logDirectory)/\(name).log"
    }

    /// The running process's id (nil while stopped).
    public var pid: pid_t? { state.withLock { $0 } }

    /// Starts the process and waits until `GET <until>` answers 200 (at most `timeout`): by default
    /// `/readyz`; `/healthz` for a process that is up but not expected to be ready.
    public func start(timeout: Duration = .seconds(30), until path: String = "/readyz") async throws {
        let pid = try spawn([executable], outputPath: logPath, environment: environment)
        state.withLock { $0 = pid }
        ChildProcesses.register(pid)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let response = try? await request(port: port, "GET \(path) HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
               response.status == 200 {
                return
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                state.withLock { $0 = nil }
                ChildProcesses.unregister(pid)
                throw FixtureError("\(name) exited while starting (status \(status)):\n\(logTail())")
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw FixtureError("\(name) did not become ready on port \(port) within \(timeout):\n\(logTail())")
    }

    /// SIGKILL, as a crash would: no clean-up runs. Waits until the process is gone.
    public func kill() async {
        await signalAndReap(SIGKILL, grace: .zero)
    }

    /// SIGTERM, then SIGKILL after `grace`. Returns whether it exited on SIGTERM with status 0.
    @discardableResult
    public func stop(grace: Duration = .seconds(15)) async -> Bool {
        await signalAndReap(SIGTERM, grace: grace)
    }

    /// SIGKILL and start again on the same port.
    public func crashAndRestart() async throws {
        await kill()
        try await start()
    }

    /// Peak resident set size (VmHWM) of the running process, in bytes.
    public func peakResidentBytes() -> Int? {
        pid.flatMap { processStatusBytes($0, "VmHWM") }
    }

    /// Everything the process logged so far (all runs).
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The last lines of the log (for failure messages).
    public func logTail(lines: Int = 30) -> String {
        log.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    @discardableResult
    private func signalAndReap(_ signal: Int32, grace: Duration) async -> Bool {
        guard let pid = state.withLock({ current -> pid_t? in defer { current = nil }; return current }) else { return true }
        let graceSeconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        let clean = (try? await offPool { () -> Bool in
            Foundation.kill(pid, signal)
            let deadline = Date().addingTimeInterval(graceSeconds)
            var status: Int32 = 0
            while Date() < deadline {
                // Exited with status 0 (the wait status's low 7 bits are the signal, bits 8-15 the code).
                if waitpid(pid, &status, WNOHANG) == pid { return status == 0 }
                usleep(20_000)
            }
            Foundation.kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return signal == SIGKILL
        }) ?? false
        ChildProcesses.unregister(pid)
        return clean
    }
}

extension ManagedProcess {
    /// Starts `product` on a free port with `DATABASE_URL`, runs `body`, then stops it (SIGTERM,
    /// SIGKILL after 15 s). With `requireCleanExit`, a process that did not exit on SIGTERM fails the call.
    public static func with<T: Sendable>(
        product: String, databaseURL: String, environment: [String: String] = [:], requireCleanExit: Bool = false,
        _ body: (ManagedProcess) async throws -> T
    ) async throws -> T {
        let logDirectory = NSTemporaryDirectory() + "amtsweg-\(product)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        let service = try ManagedProcess(
            name: product, product: product, port: try freeLoopbackPort(),
            environment: ["DATABASE_URL": databaseURL, "LOG_LEVEL": "info"].merging(environment) { $1 }, logDirectory: logDirectory)
        try await service.start()
        let result: T
        do {
            result = try await body(service)
        } catch {
            await service.stop()
            throw error
        }
        if !(await service.stop()) && requireCleanExit {
            throw FixtureError("\(product) did not exit within 15 s of SIGTERM")
        }
        return result
    }
}

/// Children still running when the test process exits are killed (a failing test never leaves
/// services behind). A command that can be interrupted calls ``exitOnInterrupt()`` so that
/// Ctrl-C and SIGTERM take this path too.
public enum ChildProcesses {
    private static let running = Mutex<Set<pid_t>>([])

    public static func register(_ pid: pid_t) {
        let first = running.withLock { all -> Bool in
            let wasEmpty = all.isEmpty
            all.insert(pid)
            return wasEmpty
        }
        if first { installExitHandler }
    }

    public static func unregister(_ pid: pid_t) { _ = running.withLock { $0.remove(pid) } }

    /// SIGINT and SIGTERM end the process through `exit`, so that exit handlers (this one, and
    /// PostgresTestServer's) stop what it started.
    /// (The handlers run on a Dispatch queue, not inside the signal handler, where locks and
    /// `pg_ctl` would not be safe.)
    public static func exitOnInterrupt() {
        let sources = [(SIGINT, Int32(130)), (SIGTERM, Int32(143))].map { number, status -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { exit(status) }
            source.resume()
            return source
        }
        signalSources = sources
    }

    /// Kept alive for the life of the process; written once, by `exitOnInterrupt` at start-up.
    nonisolated(unsafe) private static var signalSources: [DispatchSourceSignal] = []

    private static let installExitHandler: Void = {
        atexit {
            for pid in ChildProcesses.running.withLock({ Array($0) }) { kill(pid, SIGKILL) }
        }
    }()
}

/// A free loopback TCP port below the kernel's ephemeral range (32768 and up), so that no
/// outgoing connection takes it while a killed service is down and the service can bind it
/// again when it restarts.
public func freeLoopbackPort() throws -> Int {
    for _ in 0..<200 {
        let candidate = Int.random(in: 20_000..<32_000)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(candidate).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        if bound { return candidate }
    }
    throw FixtureError("no free loopback port between 20000 and 32000")
}
