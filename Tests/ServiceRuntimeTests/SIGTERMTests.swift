import Foundation
import HTTPTestSupport
import Testing

/// The real runtime in a separate process: SIGTERM while a slow request is in flight.
@Suite struct SIGTERMTests {
    @Test func sigtermLetsTheSlowRequestFinishRefusesNewConnectionsAndExitsZero() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try builtProduct("http-shutdown-fixture"))
        process.environment = [
            "HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0", "DATABASE_URL": "postgres://u:p@localhost/db",
            "SHUTDOWN_GRACE_SECONDS": "6",
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let reader = LineReader(output.fileHandleForReading)
        let port: Int = try await offPool {
            while let line = reader.nextLine() {
                if line.contains("\"http server listening\""),
                   let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   let port = Int(object["port"] as? String ?? "") {
                    return port
                }
            }
            throw RawClient.Failure(description: "fixture exited before listening")
        }

        async let slow = offPool {
            let client = try RawClient(port: port, receiveTimeout: 10)
            try client.send("GET /slow/1500 HTTP/1.1\r\nHost: t\r\n\r\n")
            return try client.readResponse()
        }
        try await Task.sleep(for: .milliseconds(300))
        let signalledAt = ContinuousClock.now
        kill(process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(300))

        #expect(throws: RawClient.Failure.self, "new connections must be refused after SIGTERM") {
            try RawClient(port: port)
        }
        let response = try await slow
        #expect(response.status == 200)
        #expect(response.bodyText == "finished after 1500 ms")
        #expect(response.header("Connection") == "close")

        let exited: Bool = try await offPool {
            let deadline = Date().addingTimeInterval(6)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            return !process.isRunning
        }
        #expect(exited, "the process must exit within the grace period")
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        #expect(ContinuousClock.now - signalledAt < .seconds(6))
        let rest = try await offPool { reader.remainingText() }
        #expect(rest.contains("received SIGTERM"))
        #expect(rest.contains("\"stopped\""))
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
