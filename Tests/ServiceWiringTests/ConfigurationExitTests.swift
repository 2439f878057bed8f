import Foundation
import HTTPTestSupport
import Testing
import TestSupport

/// A bad database setting stops each executable at start with exit status 2 and a message naming
/// the variable, as every configuration error does.
@Suite struct ConfigurationExitTests {
    static let executables = ["intake", "routing", "inbox", "notification", "servicekonto-bridge"]

    /// Runs `product` with `environment` until it exits (it must, within 30 s); its status and output.
    /// - Parameter without: variables left out of what the executables otherwise need.
    static func exitOf(_ product: String, _ environment: [String: String], without: Set<String> = []) async throws -> (status: Int32, output: String) {
        let log = NSTemporaryDirectory() + "amtsweg-exit-\(product)-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let needed = [
            "HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0", "SERVICEKONTO_URL": "http://127.0.0.1:9", "REPLY_POLLING": "false",
            "SMTP_URL": "file://" + NSTemporaryDirectory() + "amtsweg-exit-mail",
        ].filter { !without.contains($0.key) }
        let pid = try spawn([try builtProduct(product)], outputPath: log, environment: environment.merging(needed) { a, _ in a })
        ChildProcesses.register(pid)
        defer { ChildProcesses.unregister(pid) }
        let exited = try await offPool { () -> Int32? in
            let deadline = Date().addingTimeInterval(30)
            var status: Int32 = 0
            while Date() < deadline {
                if waitpid(pid, &status, WNOHANG) == pid { return status }
                usleep(20_000)
            }
            kill(pid, SIGKILL)
            _ = reap(pid)
            return nil
        }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let status = try #require(exited, "\(product) did not exit:\n\(output.suffix(2000))")
        // The wait status: bits 8-15 are the exit code, the low 7 bits a signal.
        return ((status >> 8) & 0xFF, output)
    }

    @Test(arguments: executables)
    func aBadPoolSizeExitsWithStatusTwoNamingTheVariable(product: String) async throws {
        let db = try await TestDatabase.make()
        for value in ["0", "many", "100000"] {
            let (status, output) = try await Self.exitOf(product, ["DATABASE_URL": db.url, "DATABASE_POOL_SIZE": value])
            #expect(status == 2, "\(product) with DATABASE_POOL_SIZE=\(value):\n\(output.suffix(2000))")
            #expect(output.contains("DATABASE_POOL_SIZE"), "\(output.suffix(2000))")
        }
    }

    @Test(arguments: executables)
    func aBadMigrateOnStartExitsWithStatusTwoNamingTheVariable(product: String) async throws {
        let db = try await TestDatabase.make()
        let (status, output) = try await Self.exitOf(product, ["DATABASE_URL": db.url, "MIGRATE_ON_START": "perhaps"])
        #expect(status == 2, "\(product):\n\(output.suffix(2000))")
        #expect(output.contains("MIGRATE_ON_START"), "\(output.suffix(2000))")
    }

    @Test(arguments: executables)
    func migrateOnStartWithoutTheOwnersURLExitsWithStatusTwoNamingIt(product: String) async throws {
        let db = try await TestDatabase.make()
        let (status, output) = try await Self.exitOf(product, ["DATABASE_URL": db.serviceURL, "MIGRATE_ON_START": "true"])
        #expect(status == 2, "\(product):\n\(output.suffix(2000))")
        #expect(output.contains("MIGRATION_DATABASE_URL"), "\(output.suffix(2000))")
    }

    /// No default for where mail and postbox messages go: a default would send them nowhere.
    @Test(arguments: [("notification", "SMTP_URL"), ("servicekonto-bridge", "SERVICEKONTO_URL")])
    func aMissingDestinationExitsWithStatusTwoNamingIt(product: String, variable: String) async throws {
        let db = try await TestDatabase.make()
        let (status, output) = try await Self.exitOf(product, ["DATABASE_URL": db.serviceURL], without: [variable])
        #expect(status == 2, "\(product) without \(variable):\n\(output.suffix(2000))")
        #expect(output.contains(variable), "\(output.suffix(2000))")
    }
}
