import Foundation
import HTTPTestSupport
import HTTPServer
import Logging
import ServiceRuntime
import Testing

@Suite struct ConfigurationTests {
    let database = ["DATABASE_URL": "postgres://amtsweg:s3cret@db:5432/amtsweg"]

    @Test func defaultsAndTypedValues() throws {
        let configuration = try ServiceConfiguration(serviceName: "intake", defaultPort: 8081, environment: Environment(database))
        #expect(configuration.httpHost == "0.0.0.0")
        #expect(configuration.httpPort == 8081)
        #expect(configuration.logLevel == .info)
        #expect(configuration.shutdownGracePeriod == .seconds(25))
        #expect(configuration.redactedDatabaseURL == "postgres://amtsweg:***@db:5432/amtsweg")
        // A raw '@' (or ':') in the password must not leave part of it in the log.
        for (url, redacted) in [
            ("postgres://amtsweg:p@ss:w@rd@db:5432/amtsweg", "postgres://amtsweg:***@db:5432/amtsweg"),
            ("postgresql://amtsweg@/amtsweg?host=/run/pg", "postgresql://amtsweg@/amtsweg?host=/run/pg"),
            ("postgresql://u:secret@/amtsweg?host=/run/pg&application_name=a@b", "postgresql://u:***@/amtsweg?host=/run/pg&application_name=a@b"),
            ("host=db user=amtsweg password=s3cret dbname=amtsweg", "host=db user=amtsweg password=*** dbname=amtsweg"),
            ("postgresql://u@db/amtsweg?password=s3cret&sslmode=require", "postgresql://u@db/amtsweg?password=***&sslmode=require"),
        ] {
            let redactedURL = try ServiceConfiguration(serviceName: "x", defaultPort: 1, environment: Environment(["DATABASE_URL": url])).redactedDatabaseURL
            #expect(redactedURL == redacted)
            #expect(!redactedURL.contains("ss:w") && !redactedURL.contains("s3cret") && !redactedURL.contains("secret"), "\(redactedURL)")
        }
        #expect(configuration.httpServerConfiguration.shutdownGracePeriod == .seconds(23))

        let custom = try ServiceConfiguration(serviceName: "inbox", defaultPort: 8082, environment: Environment(database.merging([
            "HTTP_HOST": "127.0.0.1", "HTTP_PORT": "9000", "LOG_LEVEL": "debug", "SHUTDOWN_GRACE_SECONDS": "2.5",
            "HTTP_MAX_BODY_BYTES": "20971520",
        ]) { $1 }))
        #expect(custom.httpHost == "127.0.0.1")
        #expect(custom.httpPort == 9000)
        #expect(custom.logLevel == .debug)
        #expect(custom.shutdownGracePeriod == .milliseconds(2500))
        #expect(custom.httpServerConfiguration.limits.maxBodyBytes == 20 << 20)
    }

    @Test(arguments: [
        (["HTTP_PORT": "eighty"], "HTTP_PORT"),
        (["HTTP_PORT": "70000"], "HTTP_PORT"),
        (["LOG_LEVEL": "loud"], "LOG_LEVEL"),
        (["SHUTDOWN_GRACE_SECONDS": "-1"], "SHUTDOWN_GRACE_SECONDS"),
        (["DATABASE_URL": "mysql://nope"], "DATABASE_URL"),
    ])
    func badVariableIsNamed(_ override: [String: String], _ variable: String) throws {
        let environment = Environment(database.merging(override) { $1 })
        let error = try #require(throws: ConfigurationError.self) {
            try ServiceConfiguration(serviceName: "intake", defaultPort: 8081, environment: environment)
        }
        #expect(error.variable == variable)
        #expect(error.description.hasPrefix("configuration error: \(variable) "))
    }

    @Test func missingDatabaseURLIsNamed() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ServiceConfiguration(serviceName: "intake", defaultPort: 8081, environment: Environment([:]))
        }
        #expect(error.variable == "DATABASE_URL")
        #expect(error.description.contains("DATABASE_URL_FILE"))
    }

    @Test func secretFromFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("amtsweg-secret-\(UUID().uuidString)").path
        try "postgres://u:from-file@db/amtsweg\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let configuration = try ServiceConfiguration(serviceName: "x", defaultPort: 1, environment: Environment(["DATABASE_URL_FILE": path]))
        #expect(configuration.databaseURL == "postgres://u:from-file@db/amtsweg")

        let both = try #require(throws: ConfigurationError.self) {
            try Environment(["DATABASE_URL": "postgres://a", "DATABASE_URL_FILE": path]).secret("DATABASE_URL")
        }
        #expect(both.variable == "DATABASE_URL")
        let unreadable = try #require(throws: ConfigurationError.self) {
            try Environment(["DATABASE_URL_FILE": "/nonexistent/secret"]).secret("DATABASE_URL")
        }
        #expect(unreadable.variable == "DATABASE_URL_FILE")
        #expect(!unreadable.description.contains("from-file"))
    }
}
