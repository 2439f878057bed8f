import Foundation
import InboxService
import JobQueue
import Logging
import NotificationService
import ServiceRuntime
import ServicekontoBridge
import Testing
import TestSupport

/// `SHUTDOWN_GRACE_SECONDS` reaches every queue consumer: after SIGTERM its running jobs get the
/// grace period less the 2 s the hand-back and the exit need (as the HTTP server's requests do),
/// never a default of their own.
@Suite struct ConsumerShutdownGraceTests {
    static func environment(_ db: TestDatabase, grace: String) -> Environment {
        Environment([
            "DATABASE_URL": db.url, "MIGRATE_ON_START": "false", "SHUTDOWN_GRACE_SECONDS": grace,
            "HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0", "RETENTION_ENABLED": "false",
            "SERVICEKONTO_URL": "http://127.0.0.1:9", "REPLY_POLLING": "false",
            "SMTP_URL": "file://" + NSTemporaryDirectory() + "amtsweg-grace-mail",
        ])
    }

    /// The services `name`'s executable runs, built as its `main` builds them (not started).
    static func services(of name: String, _ environment: Environment) async throws -> [any Service] {
        let runtime = ServiceRuntime(
            configuration: try ServiceConfiguration(serviceName: name, defaultPort: 0, environment: environment), logSink: MemoryLogSink())
        switch name {
        case "inbox": return try await InboxService.makeServices(runtime, environment: environment)
        case "notification": return try await NotificationService.makeServices(runtime, environment: environment)
        case "servicekonto-bridge": return try await BridgeService.makeServices(runtime, environment: environment)
        default: throw TestServerError("unknown service \(name)")
        }
    }

    @Test(arguments: ["inbox", "notification", "servicekonto-bridge"])
    func everyConsumerGetsTheGracePeriodLessTheHandBackMargin(service: String) async throws {
        let db = try await TestDatabase.make()
        for (grace, expected) in [("30", Duration.seconds(28)), ("3", Duration.milliseconds(1500))] {
            let consumers = queueConsumers(in: try await Self.services(of: service, Self.environment(db, grace: grace)))
            #expect(!consumers.isEmpty, "\(service) runs a queue consumer")
            for consumer in consumers {
                #expect(consumer.configuration.shutdownDeadline == expected,
                        "\(service), \(consumer.configuration.queue) with SHUTDOWN_GRACE_SECONDS=\(grace)")
            }
        }
    }
}

/// The queue consumers held by `value`, found by reflection (services keep them in private
/// properties); class instances other than consumers are not looked into.
func queueConsumers(in value: Any, depth: Int = 0) -> [QueueConsumer] {
    if let consumer = value as? QueueConsumer { return [consumer] }
    if type(of: value) is AnyClass || depth > 5 { return [] }
    return Mirror(reflecting: value).children.flatMap { queueConsumers(in: $0.value, depth: depth + 1) }
}
