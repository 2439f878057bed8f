import Foundation

/// The `http-shutdown-fixture` service (the real runtime with a `/slow/:ms` route) in a
/// process of its own, listening on an ephemeral loopback port. Use ``with(environment:_:)``,
/// which never leaves the process behind.
public final class FixtureProcess: @unchecked Sendable {
    public let process = Process()
    public let port: Int
    private let reader: LineReader

    /// Starts the fixture, runs `body`, and then kills the process if it is still running
    /// (also when `body` throws), so no test leaves a server behind.
    public static func with<T: Sendable>(
        environment: [String: String] = [:], _ body: (FixtureProcess) async throws -> T
    ) async throws -> T {
        let fixture = try await FixtureProcess(environment: environment)
        defer { fixture.kill() }
        return try await body(fixture)
    }

    /// Starts the fixture and waits until it logs the port it listens on.
    private init(environment extra: [String: String] = [:]) async throws {
        process.executableURL = URL(fileURLWithPath: try builtProduct("http-shutdown-fixture"))
        process.environment = [
            "HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0", "DATABASE_URL": "postgres://u:p@localhost/db",
        ].merging(extra) { $1 }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let reader = LineReader(output.fileHandleForReading)
        self.reader = reader
        port = try await offPool {
            while let line = reader.nextLine() {
                if line.contains("\"http server listening\""),
                   let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   let port = Int(object["port"] as? String ?? "") {
                    return port
                }
            }
            throw RawClient.Failure(description: "fixture exited before listening")
        }
    }

    /// SIGKILL, then reaps the process.
    private func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// VmRSS of the fixture in KiB.
    public func residentSetSizeKiB() -> Int {
        HTTPTestSupport.residentSetSizeKiB(pid: process.processIdentifier)
    }

    /// Waits up to `seconds` for the process to exit; true when it did.
    public func waitForExit(within seconds: Double) async throws -> Bool {
        try await offPool { [process] in
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            return !process.isRunning
        }
    }

    /// Everything it printed after the listening line (call after it exited).
    public func remainingOutput() async throws -> String {
        try await offPool { [reader] in reader.remainingText() }
    }
}

/// Reads a pipe line by line (blocking; use inside `offPool`).
final class LineReader: @unchecked Sendable {
    private let handle: FileHandle
    private var buffer = Data()

    init(_ handle: FileHandle) { self.handle = handle }

    func nextLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }

    func remainingText() -> String {
        buffer.append(handle.readDataToEndOfFile())
        return String(decoding: buffer, as: UTF8.self)
    }
}
