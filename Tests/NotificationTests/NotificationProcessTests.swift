import Foundation
import JobQueue
import Mail
import MailTestSupport
import NotificationService
import Postgres
import Testing
import TestSupport

/// The `notification` executable itself.
@Suite struct NotificationProcessTests {
    static func startService(_ harness: Harness, smtpURL: String, log: String, environment: [String: String] = [:]) throws -> pid_t {
        let executable = try builtProduct("notification")
        return try spawn([executable], outputPath: log, environment: [
            "DATABASE_URL": harness.db.url, "HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0", "MIGRATE_ON_START": "false",
            "SMTP_URL": smtpURL, "SMTP_STARTTLS": "off", "SMTP_CONNECTIONS": "2", "SMTP_FROM": "noreply@erkrath.de",
            "PUBLIC_INBOX_URL": "https://inbox.erkrath.example", "NOTIFY_LEASE_SECONDS": "2", "LOG_LEVEL": "info",
        ].merging(environment) { $1 })
    }

    @Test func killedMidBurstEveryMailArrivesAtLeastOnceWithItsMessageID() async throws {
        try await SMTPServer.with { server in
            let harness = try await Harness()
            let seed = try await Seed.make(harness.db)
            let count = 1000
            let jobs = try (0..<count).map { _ in try seed.job(.newApplication, to: seed.member) }
            let ids = try await harness.db.pool.withTransaction { try await harness.queue.enqueue(jobs, in: $0) }
            let expected = Set(ids.map { "<notify-email-\($0)@amtsweg.erkrath.de>" })
            #expect(expected.count == count)

            let directory = try makeTemporaryDirectory()
            let first = try Self.startService(harness, smtpURL: server.url, log: "\(directory)/first.log")
            let started = try await eventually(timeout: .seconds(30), every: .milliseconds(5)) { try server.messages().count >= 100 }
            kill(first, SIGKILL)
            _ = try await offPool { reap(first) }
            #expect(started)
            let atKill = try server.messages().count
            #expect(atKill < count, "the burst was over before the kill")

            let second = try Self.startService(harness, smtpURL: server.url, log: "\(directory)/second.log")
            var secondRunning = true
            defer {
                if secondRunning {
                    kill(second, SIGKILL)
                    reap(second)
                }
            }
            let drained = try await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
                let left = try await harness.jobsLeft()
                return left == 0
            }
            #expect(drained)
            let received = try messageIDs(server)
            #expect(Set(received) == expected)
            #expect(received.count >= count)
            print("notification process killed after \(atKill) of \(count) mails; \(received.count) received, \(received.count - count) duplicates (same Message-ID)")
            #expect(try await harness.queue.deadLetters().isEmpty)
            try await Task.sleep(for: .milliseconds(500))
            // Health and metrics on the port it logged.
            let log = try String(contentsOfFile: "\(directory)/second.log", encoding: .utf8)
            let listening = try #require(log.split(separator: "\n").first { $0.contains("\"http server listening\"") })
            let object = try JSONSerialization.jsonObject(with: Data(listening.utf8)) as? [String: Any]
            let port = try #require(Int(object?["port"] as? String ?? ""))
            let health = try await run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/healthz"], in: directory)
            #expect(health == "200")
            let metrics = try await run(["curl", "-s", "http://127.0.0.1:\(port)/metrics"], in: directory)
            #expect(metrics.contains("amtsweg_notification_emails_sent_total{kind=\"new_application\"}"))
            // Two worker threads, one connection each, for 900 mails.
            #expect(metrics.contains("amtsweg_smtp_connections_opened_total 2"))
            #expect(metrics.contains("amtsweg_queue_ready_jobs{queue=\"notify-email\"} 0"))
            // No applicant data in the service's log either.
            #expect(!log.contains(Seed.applicantName) && !log.contains(Seed.applicantEmail))
            let status = (try? String(contentsOfFile: "/proc/\(second)/status", encoding: .utf8)) ?? ""
            let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? "VmRSS: ?"
            print("notification process after its share of the burst, idle: \(rss.replacingOccurrences(of: "\t", with: " "))")
            // A clean stop: SIGTERM ends the second process with status 0.
            kill(second, SIGTERM)
            let exitStatus = try await offPool { reap(second) }
            secondRunning = false
            #expect(exitStatus == 0, "exit status \(exitStatus): \((try? String(contentsOfFile: "\(directory)/second.log", encoding: .utf8)) ?? "")")
        }
    }
}
