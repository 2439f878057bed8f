import Foundation
import JobQueue
import QueueContracts
import Mail
import MailTestSupport
import NotificationService
import Postgres
import Testing
import TestSupport

/// The notify-email consumer against a real PostgreSQL and a real SMTP server (aiosmtpd).
@Suite struct NotificationTests {
    @Test func newApplicationIsMailedWithoutApplicantData() async throws {
        try await SMTPServer.with { server in
            let harness = try await Harness()
            let seed = try await Seed.make(harness.db)
            try harness.startConsumer(smtpURL: server.url)
            let id = try #require(try await harness.queue.enqueue(try seed.job(.newApplication, to: seed.member)))
            #expect(try await eventually {
                let left = try await harness.jobsLeft()
                return try server.messages().count == 1 && left == 0
            })
            await harness.stop()
            let file = try #require(try server.messages().first)
            let parsed = try await ParsedMessage.parse(file)
            #expect(parsed.subject == "Neuer Antrag ERK-2026-000123 in Ihrem Postkorb: Anwohnerparkausweis (Änderung)")
            #expect(parsed.from_name == "Stadt Erkrath")
            #expect(parsed.from_address == "noreply@erkrath.de")
            #expect(parsed.to == ["sachbearbeitung@erkrath.de"])
            #expect(parsed.message_id == "<notify-email-\(id)@amtsweg.erkrath.de>")
            #expect(parsed.auto_submitted == "auto-generated")
            #expect(parsed.body.contains("Zum Vorgang: https://inbox.erkrath.example/applications/\(seed.application.uuidString.lowercased())"))
            #expect(parsed.body.contains("Online-Dienst: Anwohnerparkausweis (Änderung)"))
            #expect(parsed.defects.isEmpty)
            // Nothing of the applicant, neither raw nor decoded.
            let raw = try String(contentsOfFile: file, encoding: .utf8)
            for secret in [Seed.applicantName, "Mustermann", Seed.applicantEmail, "Musterweg", "40699"] {
                #expect(!raw.contains(secret))
                #expect(!parsed.body.contains(secret) && !parsed.subject.contains(secret))
            }
            #expect(harness.counter("amtsweg_notification_emails_sent_total", ["kind": "new_application"]) == 1)
        }
    }

    @Test func aDeliveryFailureNobodyHoldsGoesToTheAreasMembersOrElseTheTenantsAdmins() async throws {
        try await SMTPServer.with { server in
            let harness = try await Harness()
            let seed = try await Seed.make(harness.db)
            let admin = try await harness.db.scalar("""
                INSERT INTO caseworkers (tenant_id, name, email, roles) VALUES (\(seed.tenant), 'Leitung', 'leitung@erkrath.de', '{caseworker,admin}') RETURNING id
                """, as: UUID.self)
            _ = admin
            let unroutable = try await harness.db.scalar("""
                INSERT INTO applications (tenant_id, service_id, reference, status, applicant, form, submitted_at)
                SELECT tenant_id, service_id, 'ERK-2026-000125', 'unroutable', applicant, form, now() FROM applications WHERE id = \(seed.application)
                RETURNING id
                """, as: UUID.self)
            try harness.startConsumer(smtpURL: server.url)
            // No caseworker named: whoever is responsible when the e-mail goes out.
            for application in [seed.application, unroutable] {
                try await harness.queue.enqueue(try NewJob(
                    queue: .notifyEmail,
                    payload: ["kind": "delivery_failed", "application_id": application.uuidString.lowercased(), "message_id": UUID().uuidString.lowercased()],
                    tenantID: seed.tenant))
            }
            #expect(try await eventually { try await harness.jobsLeft() == 0 && (try server.messages().count) == 2 })
            await harness.stop()
            #expect(try await harness.db.scalar("SELECT count(*)::int FROM queue_dead_letters", as: Int.self) == 0)
            var recipients: [[String]] = []
            for file in try server.messages() { recipients.append((try await ParsedMessage.parse(file)).to.sorted()) }
            // The area's active member who wants e-mail (not the deactivated one, not the one who turned it off);
            // the unroutable one goes to the tenant's admin.
            #expect(Set(recipients) == [["sachbearbeitung@erkrath.de"], ["leitung@erkrath.de"]])
        }
    }

    @Test func recipientsWhoNoLongerQualifyGetNothing() async throws {
        try await SMTPServer.with { server in
            let harness = try await Harness()
            let seed = try await Seed.make(harness.db)
            try harness.startConsumer(smtpURL: server.url)
            try await harness.queue.enqueue(try seed.job(.newApplication, to: seed.deactivated))
            try await harness.queue.enqueue(try seed.job(.newApplication, to: seed.emailOff))
            try await harness.queue.enqueue(try seed.job(.newApplication, to: seed.outsider))
            try await harness.queue.enqueue(try seed.job(.applicantReplied, to: seed.outsider, application: seed.claimedApplication))
            // A control: the member qualifies and gets exactly one.
            try await harness.queue.enqueue(try seed.job(.newApplication, to: seed.member))
            #expect(try await eventually { try await harness.jobsLeft() == 0 })
            let sentBefore = try server.messages().count
            // Queued while active, deactivated before it is sent: nothing.
            try await harness.db.pool.withTransaction { transaction in
                try await harness.queue.enqueue(try seed.job(.deliveryFailed, to: seed.member), in: transaction)
                try await transaction.query("UPDATE caseworkers SET active = false WHERE id = \(seed.member)")
            }
            #expect(try await eventually { try await harness.jobsLeft() == 0 })
            try await Task.sleep(for: .milliseconds(200))
            await harness.stop()
            #expect(sentBefore == 1)
            #expect(try server.messages().count == 1)
            #expect(harness.counter("amtsweg_notification_emails_skipped_total", ["reason": "caseworker_inactive"]) == 2)
            #expect(harness.counter("amtsweg_notification_emails_skipped_total", ["reason": "email_turned_off"]) == 1)
            #expect(harness.counter("amtsweg_notification_emails_skipped_total", ["reason": "not_in_area"]) == 1)
            #expect(harness.counter("amtsweg_notification_emails_skipped_total", ["reason": "not_holding_case"]) == 1)
            #expect(try await harness.queue.deadLetters().isEmpty)
        }
    }

    @Test func caseworkerHoldingTheCaseGetsRepliesAndFailedDeliveries() async throws {
        try await SMTPServer.with { server in
            let harness = try await Harness()
            let seed = try await Seed.make(harness.db)
            try harness.startConsumer(smtpURL: server.url)
            try await harness.queue.enqueue(try seed.job(.applicantReplied, to: seed.claimer, application: seed.claimedApplication))
            try await harness.queue.enqueue(try seed.job(.deliveryFailed, to: seed.claimer, application: seed.claimedApplication))
            #expect(try await eventually { try server.messages().count == 2 })
            await harness.stop()
            let subjects = try await server.messages().asyncMap { try await ParsedMessage.parse($0).subject }.sorted()
            #expect(subjects == [
                "Antwort zum Vorgang ERK-2026-000124: Anwohnerparkausweis (Änderung)",
                "Zustellung fehlgeschlagen zum Vorgang ERK-2026-000124: Anwohnerparkausweis (Änderung)",
            ])
        }
    }

    @Test func tenantTemplatesAreUsedAndBrokenOnesFallBack() async throws {
        try await SMTPServer.with { server in
            let harness = try await Harness()
            let seed = try await Seed.make(harness.db)
            try await harness.db.pool.query("""
                INSERT INTO notification_templates (tenant_id, kind, subject, body) VALUES
                (\(seed.tenant), 'email.new_application', 'Eingang {{reference}} – {{tenant}}', 'Bitte bearbeiten: {{link}}'),
                (\(seed.tenant), 'email.applicant_replied', 'Antwort {{applicant_name}}', 'x {{reference}}')
                """)
            try harness.startConsumer(smtpURL: server.url)
            try await harness.queue.enqueue(try seed.job(.newApplication, to: seed.member))
            #expect(try await eventually { try server.messages().count == 1 })
            try await harness.queue.enqueue(try seed.job(.applicantReplied, to: seed.member))
            #expect(try await eventually { try server.messages().count == 2 })
            await harness.stop()
            let messages = try server.messages()
            let custom = try await ParsedMessage.parse(messages[0])
            #expect(custom.subject == "Eingang ERK-2026-000123 – Stadt Erkrath")
            #expect(custom.body.hasPrefix("Bitte bearbeiten: https://inbox.erkrath.example/applications/"))
            let fallback = try await ParsedMessage.parse(messages[1])
            #expect(fallback.subject == "Antwort zum Vorgang ERK-2026-000123: Anwohnerparkausweis (Änderung)")
            #expect(harness.counter("amtsweg_notification_template_fallbacks_total", ["kind": "applicant_replied"]) == 1)
        }
    }

    @Test func temporaryFailureIsRetriedAndDeliveredOnce() async throws {
        var options = SMTPServer.Options()
        options.failTemporarily = 2
        try await SMTPServer.with(options) { server in
            let harness = try await Harness()
            let seed = try await Seed.make(harness.db)
            try harness.startConsumer(smtpURL: server.url)
            try await harness.queue.enqueue(try seed.job(.newApplication, to: seed.member))
            #expect(try await eventually { try await harness.jobsLeft() == 0 })
            try await Task.sleep(for: .milliseconds(300))
            await harness.stop()
            #expect(try server.messages().count == 1)
            #expect(try server.stats().rcpt_rejected == 2)
            #expect(try await harness.queue.deadLetters().isEmpty)
            #expect(harness.counter("amtsweg_notification_emails_failed_total", ["kind": "transient"]) == 2)
        }
    }

    @Test func permanentFailureIsADeadLetterWithTheServersReply() async throws {
        var options = SMTPServer.Options()
        options.failPermanently = true
        try await SMTPServer.with(options) { server in
            let harness = try await Harness()
            let seed = try await Seed.make(harness.db)
            try harness.startConsumer(smtpURL: server.url)
            let id = try #require(try await harness.queue.enqueue(try seed.job(.newApplication, to: seed.member)))
            #expect(try await eventually { try await !harness.queue.deadLetters().isEmpty })
            await harness.stop()
            let letter = try #require(try await harness.queue.deadLetters().first)
            #expect(letter.jobID == id)
            #expect(letter.attempts == 1)
            #expect(letter.lastError.contains("550 5.1.1 Mailbox unavailable: no such user here"))
            #expect(!letter.lastError.contains(Seed.applicantName))
            #expect(try server.messages().isEmpty)
        }
    }

    @Test func serverDownThenUpIsDelivered() async throws {
        try await SMTPServer.with { server in
            let harness = try await Harness()
            let seed = try await Seed.make(harness.db)
            server.stop()
            try harness.startConsumer(smtpURL: server.url)
            let id = try #require(try await harness.queue.enqueue(try seed.job(.newApplication, to: seed.member)))
            let failedOnce = try await eventually {
                try await harness.db.scalar("SELECT count(*)::int FROM queue_jobs WHERE id = \(id) AND last_error IS NOT NULL", as: Int.self) == 1
            }
            #expect(failedOnce)
            let lastError = try await harness.db.scalar("SELECT last_error FROM queue_jobs WHERE id = \(id)", as: String.self)
            #expect(lastError.contains("connect"))
            try await server.start()
            #expect(try await eventually {
                let left = try await harness.jobsLeft()
                return try server.messages().count == 1 && left == 0
            })
            await harness.stop()
            #expect(try await harness.queue.deadLetters().isEmpty)
        }
    }

    @Test func malformedJobsAreDeadLetters() async throws {
        try await SMTPServer.with { server in
            let harness = try await Harness()
            let seed = try await Seed.make(harness.db)
            try harness.startConsumer(smtpURL: server.url)
            try await harness.queue.enqueue(try NewJob(queue: .notifyEmail, payload: ["kind": "nonsense"], tenantID: seed.tenant))
            try await harness.queue.enqueue(try NewJob(
                NotifyEmailJob(kind: .newApplication, applicationID: seed.application, caseworkerID: seed.member), tenantID: nil))
            #expect(try await eventually { try await harness.queue.deadLetters().count == 2 })
            await harness.stop()
            #expect(try server.messages().isEmpty)
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
