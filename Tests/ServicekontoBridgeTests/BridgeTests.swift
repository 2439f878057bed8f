import Foundation
import HTTPClient
import JobQueue
import QueueContracts
import Postgres
import Servicekonto
import ServicekontoBridge
import ServicekontoSandbox
import Testing
import TestSupport

/// servicekonto-bridge against the postbox sandbox over real HTTP, on a real PostgreSQL.
@Suite(.serialized)
struct BridgeTests {
    @Test func statusMessagesOfAFullLifecycleArriveInOrder() async throws {
        let h = try await Harness.make()
        let fixture = try await h.seedTenant()
        let app = try await h.seedApplications(fixture)[0]
        let lifecycle = ["RECEIVED", "PROCESSING", "ACTION_REQUIRED", "PROCESSING", "COMPLETED"]
        var ids: [UUID] = []
        for status in lifecycle {
            ids.append(try await h.queueMessage(fixture, application: app.id, mailbox: app.mailbox!, kind: "status", status: status, body: "", enqueue: false))
        }
        // Jobs in reverse order: the bridge must still send them in the order they were created.
        try await h.enqueueOutbox(ids.reversed(), tenant: fixture.tenantID)
        let bridge = h.startBridge(h.bridgeConfiguration())
        let settled = try await h.waitUntilSettled()
        await bridge.stop()
        #expect(settled)

        let box = try #require(try await h.sandboxMailbox(app.mailbox!))
        #expect(box.statuses.map(\.status.status.rawValue) == lifecycle)
        #expect(box.statuses.map(\.status.id) == ids.map { $0.uuidString.lowercased() })
        #expect(box.statuses.allSatisfy { $0.status.applicationId == app.id.uuidString.lowercased() && $0.status.publicServiceName == "Anwohnerparkausweis" && $0.status.senderName == "Stadt Erkelenz" })
        for (id, stored) in zip(ids, box.statuses) {
            let state = try await h.messageState(id)
            #expect(state.deliveryState == "delivered")
            #expect(state.externalID == stored.receiverId)
            #expect(state.deliveredAt != nil)
        }
        #expect(try await h.count("SELECT count(*) FROM timeline_events WHERE kind = 'message_delivered'") == 5)
        await h.close()
    }

    @Test func questionIsDeliveredAndTheReplyIsQueuedOnceOnCitizenReply() async throws {
        let h = try await Harness.make()
        let fixture = try await h.seedTenant()
        let app = try await h.seedApplications(fixture)[0]
        let question = try await h.queueMessage(fixture, application: app.id, mailbox: app.mailbox!, kind: "question",
                                                subject: "Rückfrage zu Ihrem Antrag", body: "Bitte reichen Sie die Zulassungsbescheinigung nach.")
        let bridge = h.startBridge(h.bridgeConfiguration(replyPolling: true))
        #expect(try await h.waitUntilSettled())
        let box = try #require(try await h.sandboxMailbox(app.mailbox!))
        #expect(box.messages.count == 1)
        let sent = box.messages[0].message
        #expect(sent.id == question.uuidString.lowercased())
        #expect(sent.title == "Rückfrage zu Ihrem Antrag")
        #expect(sent.stork_qaa_level == 3)
        #expect(sent.reference == "ERK-2026-000001")

        let pdf = Array("%PDF-1.4 Zulassungsbescheinigung".utf8)
        let attachment = PostboxAttachment(filename: "zb1.pdf", mimeType: "application/pdf", sha512sum: SHA512.hex(pdf), contentLength: pdf.count, content: Data(pdf).base64EncodedString())
        let reply = try await h.reply(mailbox: app.mailbox!, to: question, text: "Anbei die Bescheinigung.", attachments: [attachment])
        let queued = try await eventually(timeout: .seconds(10)) { try await h.jobs(on: "citizen-reply").count == 1 }
        #expect(queued)
        // A few more polls must not queue it again.
        try await Task.sleep(for: .milliseconds(500))
        await bridge.stop()

        let jobs = try await h.jobs(on: "citizen-reply")
        #expect(jobs.count == 1)
        let job = try #require(jobs.first)
        #expect(job.dedupeKey == reply.id)
        #expect(job.tenantID == fixture.tenantID)
        #expect(job.payload["reply_id"] as? String == reply.id)
        #expect(job.payload["application_id"] as? String == app.id.uuidString.lowercased())
        #expect(job.payload["in_reply_to"] as? String == question.uuidString.lowercased())
        #expect(job.payload["mailbox_id"] as? String == app.mailbox!.uuidString.lowercased())
        #expect(job.payload["text"] as? String == "Anbei die Bescheinigung.")
        #expect(job.payload["text_truncated"] as? Bool == false)
        let attachmentIDs = try #require(job.payload["attachment_ids"] as? [String])
        #expect(attachmentIDs.count == 1)
        let stored = try await h.db.pool.query("SELECT filename, origin, size_bytes, content FROM attachments WHERE id = \(UUID(uuidString: attachmentIDs[0])!)")
        #expect(try stored[0].decode("filename", as: String.self) == "zb1.pdf")
        #expect(try stored[0].decode("origin", as: String.self) == "applicant")
        #expect(try stored[0].decode("content", as: Data.self) == Data(pdf))
        #expect(try await h.db.scalar("SELECT cursor FROM servicekonto_reply_cursors WHERE tenant_id IS NULL", as: String.self) == "r1")
        await h.close()
    }

    @Test func decisionIsNeverSentWhileTheTenantForbidsIt() async throws {
        let h = try await Harness.make()
        let fixture = try await h.seedTenant(decisionsAllowed: false)
        let app = try await h.seedApplications(fixture)[0]
        let decision = try await h.queueMessage(fixture, application: app.id, mailbox: app.mailbox!, kind: "decision", subject: "Bescheid")
        let bridge = h.startBridge(h.bridgeConfiguration())
        #expect(try await h.waitUntilSettled())
        await bridge.stop()
        let state = try await h.messageState(decision)
        #expect(state.deliveryState == "failed")
        #expect(state.failureReason?.contains("decisions_via_back_channel") == true)
        #expect(try await h.sandboxMailbox(app.mailbox!) == nil)
        #expect(try await h.sandboxStatistics().messagesStored == 0)
        let notify = try await h.jobs(on: "notify-email")
        #expect(notify.count == 1)
        #expect(notify.first?.payload["kind"] as? String == "delivery_failed")
        #expect(notify.first?.payload["caseworker_id"] as? String == fixture.caseworkerID.uuidString.lowercased())
        #expect(try await h.count("SELECT count(*) FROM queue_dead_letters WHERE queue = 'citizen-outbox'") == 1)

        // Switched on, the same kind goes out: the refusal above is the policy, not a broken path.
        try await h.db.pool.query("UPDATE tenants SET decisions_via_back_channel = true")
        let allowed = try await h.queueMessage(fixture, application: app.id, mailbox: app.mailbox!, kind: "decision", subject: "Bescheid")
        let again = h.startBridge(h.bridgeConfiguration())
        #expect(try await h.waitUntilSettled())
        await again.stop()
        #expect(try await h.messageState(allowed).deliveryState == "delivered")
        #expect(try await h.sandboxMailbox(app.mailbox!)?.messages.map(\.message.id) == [allowed.uuidString.lowercased()])
        await h.close()
    }

    @Test func documentsNeedConsentAndTheServicesTrustLevel() async throws {
        let h = try await Harness.make()
        let fixture = try await h.seedTenant(documentTrustLevel: "substantial")
        let noConsent = try await h.seedApplications(fixture, trustLevel: "high", consent: false)[0]
        let lowTrust = try await h.seedApplications(fixture, trustLevel: "basic", consent: true)[0]
        let fine = try await h.seedApplications(fixture, trustLevel: "substantial", consent: true)[0]
        let noPostbox = try await h.seedApplications(fixture, trustLevel: nil)[0]
        let pdf = Array((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let m1 = try await h.queueMessage(fixture, application: noConsent.id, mailbox: noConsent.mailbox!, kind: "document", attachments: [("bescheid.pdf", pdf)])
        let m2 = try await h.queueMessage(fixture, application: lowTrust.id, mailbox: lowTrust.mailbox!, kind: "document", attachments: [("bescheid.pdf", pdf)])
        let m3 = try await h.queueMessage(fixture, application: fine.id, mailbox: fine.mailbox!, kind: "document", attachments: [("bescheid.pdf", pdf)])
        let m4 = try await h.queueMessage(fixture, application: noPostbox.id, mailbox: UUID(), kind: "information")
        let bridge = h.startBridge(h.bridgeConfiguration())
        #expect(try await h.waitUntilSettled())
        await bridge.stop()

        let s1 = try await h.messageState(m1), s2 = try await h.messageState(m2), s3 = try await h.messageState(m3), s4 = try await h.messageState(m4)
        #expect(s1.deliveryState == "failed" && s1.failureReason?.contains("document_consent") == true)
        #expect(s2.deliveryState == "failed" && s2.failureReason?.contains("trust level basic is below") == true)
        #expect(s3.deliveryState == "delivered")
        #expect(s4.deliveryState == "failed" && s4.failureReason?.contains("no citizen postbox") == true)
        #expect(try await h.sandboxMailbox(noConsent.mailbox!) == nil)
        #expect(try await h.sandboxMailbox(lowTrust.mailbox!) == nil)
        #expect(try await h.sandboxStatistics().messagesStored == 1)
        let delivered = try #require(try await h.sandboxMailbox(fine.mailbox!)?.messages.first?.message)
        let attachment = try #require(delivered.attachments?.first)
        #expect(attachment.filename == "bescheid.pdf")
        #expect(attachment.contentLength == pdf.count)
        #expect(Data(base64Encoded: attachment.content) == Data(pdf))
        #expect(attachment.sha512sum == SHA512.hex(pdf))
        #expect(try await h.jobs(on: "notify-email").count == 3)
        await h.close()
    }

    @Test func permanent400MarksTheMessageFailedAndEmailsTheCaseworker() async throws {
        let h = try await Harness.make()
        let fixture = try await h.seedTenant()
        let app = try await h.seedApplications(fixture)[0]
        #expect(try await h.sandboxPost("/sandbox/mailboxes/\(app.mailbox!.uuidString.lowercased())/close") == 204)
        let message = try await h.queueMessage(fixture, application: app.id, mailbox: app.mailbox!, kind: "information")
        let bridge = h.startBridge(h.bridgeConfiguration())
        #expect(try await h.waitUntilSettled())
        await bridge.stop()
        let state = try await h.messageState(message)
        #expect(state.deliveryState == "failed")
        #expect(state.failureReason?.contains("HTTP 400") == true)
        #expect(state.failureReason?.contains("closed") == true)
        #expect(try await h.sandboxStatistics().rejected == 1)   // tried once, not retried
        let notify = try await h.jobs(on: "notify-email")
        #expect(notify.count == 1)
        #expect(notify.first?.payload["kind"] as? String == "delivery_failed")
        #expect(notify.first?.payload["application_id"] as? String == app.id.uuidString.lowercased())
        #expect(notify.first?.payload["caseworker_id"] as? String == fixture.caseworkerID.uuidString.lowercased())
        #expect(notify.first?.tenantID == fixture.tenantID)
        #expect(try await h.count("SELECT count(*) FROM timeline_events WHERE kind = 'message_failed'") == 1)
        await h.close()
    }

    @Test func aFailedDeliveryOnAnUnclaimedApplicationAlertsWhoeverIsResponsibleWhenTheMailIsSent() async throws {
        let h = try await Harness.make()
        let fixture = try await h.seedTenant()
        let app = try await h.seedApplications(fixture)[0]
        // Nobody holds it: back in the area's shared inbox.
        _ = try await h.count("UPDATE applications SET status = 'assigned', claimed_by = NULL WHERE id = \(app.id) RETURNING 1")
        #expect(try await h.sandboxPost("/sandbox/mailboxes/\(app.mailbox!.uuidString.lowercased())/close") == 204)
        let message = try await h.queueMessage(fixture, application: app.id, mailbox: app.mailbox!, kind: "information")
        let bridge = h.startBridge(h.bridgeConfiguration())
        #expect(try await h.waitUntilSettled())
        await bridge.stop()
        #expect(try await h.messageState(message).deliveryState == "failed")
        // One alert; its recipients (the area's members, else the tenant's admins) are resolved
        // by the notification service when it sends, so the job names no caseworker.
        let notify = try await h.jobs(on: "notify-email")
        #expect(notify.count == 1)
        #expect(notify.first?.payload["kind"] as? String == "delivery_failed")
        #expect(notify.first?.payload["application_id"] as? String == app.id.uuidString.lowercased())
        #expect(notify.first?.payload["message_id"] as? String == message.uuidString.lowercased())
        #expect(notify.first?.payload["caseworker_id"] == nil)
        await h.close()
    }

    @Test func thousandMessagesWithInjectedFaultsAreEachDeliveredExactlyOnce() async throws {
        let faults = FaultInjection(serverErrorRate: 0.30, rateLimitRate: 0.10, retryAfterSeconds: 1, dropRate: 0.05)
        let h = try await Harness.make(faults: faults)
        let fixture = try await h.seedTenant()
        let apps = try await h.seedApplications(fixture, count: 1000)
        let ids: [UUID] = try await h.db.pool.query("""
            INSERT INTO messages (tenant_id, application_id, direction, kind, subject, body, trust_level, mailbox_id, delivery_state)
            SELECT tenant_id, id, 'outbound', 'information', 'Hinweis', 'Ihr Antrag ist eingegangen.', 'substantial', postbox_mailbox_id, 'queued'
            FROM applications WHERE tenant_id = \(fixture.tenantID)
            RETURNING id
            """).map { try $0.decode("id") }
        #expect(ids.count == apps.count)
        try await h.enqueueOutbox(ids, tenant: fixture.tenantID)
        let started = ContinuousClock.now
        let bridge = h.startBridge(h.bridgeConfiguration(concurrency: 32))
        let settled = try await h.waitUntilSettled(timeout: .seconds(120))
        let elapsed = ContinuousClock.now - started
        await bridge.stop()
        #expect(settled)

        let stats = try await h.sandboxStatistics()
        #expect(try await h.count("SELECT count(*) FROM messages WHERE delivery_state = 'delivered'") == 1000)
        #expect(try await h.count("SELECT count(*) FROM messages WHERE delivery_state <> 'delivered'") == 0)
        #expect(try await h.count("SELECT count(DISTINCT external_id) FROM messages") == 1000)
        #expect(stats.messagesStored == 1000)
        #expect(stats.serverErrors > 200 && stats.rateLimited > 50)
        // Duplicates come only from connections dropped after the message was stored.
        #expect(stats.dropped > 10 && stats.duplicates > 0 && stats.duplicates < stats.dropped)
        var deliveries = 0
        for app in apps.prefix(1000) {
            let box = try #require(try await h.sandboxMailbox(app.mailbox!))
            #expect(box.messages.count == 1)
            deliveries += box.messages.reduce(0) { $0 + $1.deliveries }
        }
        #expect(deliveries == 1000 + stats.duplicates)
        #expect(try await h.count("SELECT count(*) FROM queue_dead_letters") == 0)
        print("faults: 1000 messages in \(elapsed); sandbox: stored \(stats.messagesStored), 500s \(stats.serverErrors), 429s \(stats.rateLimited), dropped \(stats.dropped), duplicates \(stats.duplicates) (counted, not stored twice)")
        await h.close()
    }

    @Test func tokensAreCachedRefreshedBeforeExpiryAndAfterA401() async throws {
        let h = try await Harness.make(tokenLifetime: .seconds(2))
        let fixture = try await h.seedTenant()
        let apps = try await h.seedApplications(fixture, count: 150)
        let bridge = h.startBridge(h.bridgeConfiguration())
        func deliver(_ slice: ArraySlice<(id: UUID, mailbox: UUID?)>) async throws {
            for app in slice { try await h.queueMessage(fixture, application: app.id, mailbox: app.mailbox!, kind: "information") }
            #expect(try await h.waitUntilSettled())
        }
        try await deliver(apps[0..<50])
        #expect(try await h.sandboxStatistics().tokensIssued == 1)       // one token for 50 messages
        try await Task.sleep(for: .milliseconds(1200))                      // past the refresh point (half of 2 s)
        try await deliver(apps[50..<100])
        var stats = try await h.sandboxStatistics()
        #expect(stats.tokensIssued == 2)
        #expect(stats.unauthorized == 0)                                   // refreshed before it expired
        #expect(try await h.sandboxPost("/sandbox/tokens/revoke") == 200)  // expires early, mid-run
        try await deliver(apps[100..<150])
        await bridge.stop()
        stats = try await h.sandboxStatistics()
        #expect(stats.unauthorized >= 1)
        #expect(stats.tokensIssued == 3)
        #expect(stats.messagesStored == 150)
        #expect(try await h.count("SELECT count(*) FROM messages WHERE delivery_state = 'delivered'") == 150)
        await h.close()
    }

    @Test func transientFailuresUntilTheLastAttemptMarkTheMessageFailed() async throws {
        let h = try await Harness.make(faults: FaultInjection(serverErrorRate: 1))
        let fixture = try await h.seedTenant()
        let app = try await h.seedApplications(fixture)[0]
        let message = try await h.queueMessage(fixture, application: app.id, mailbox: app.mailbox!, kind: "information", enqueue: false)
        try await h.db.pool.withTransaction { tx in
            _ = try await h.queue.enqueue(try NewJob(CitizenOutboxJob(messageID: message), tenantID: fixture.tenantID, maxAttempts: 3), in: tx)
        }
        let bridge = h.startBridge(h.bridgeConfiguration())
        #expect(try await h.waitUntilSettled(timeout: .seconds(20)))
        await bridge.stop()
        let state = try await h.messageState(message)
        #expect(state.deliveryState == "failed")
        #expect(state.failureReason?.hasPrefix("gave up after 3 attempts: POST /messages: HTTP 500") == true)
        #expect(try await h.sandboxStatistics().serverErrors == 3)
        #expect(try await h.jobs(on: "notify-email").count == 1)
        #expect(try await h.count("SELECT count(*) FROM queue_dead_letters WHERE queue = 'citizen-outbox'") == 1)
        await h.close()
    }

    @Test func aDeliveryWhoseLeaseWasTakenOverWhileItWaitedIsNeverSent() async throws {
        // Every POST takes 2 s, and the bridge has one connection: the second delivery waits.
        let h = try await Harness.make(faults: FaultInjection(slowRate: 1, slowMilliseconds: 2000))
        let fixture = try await h.seedTenant()
        let apps = try await h.seedApplications(fixture, count: 2)
        var messages: [UUID] = []
        for app in apps { messages.append(try await h.queueMessage(fixture, application: app.id, mailbox: app.mailbox!, kind: "information")) }
        var configuration = h.bridgeConfiguration(concurrency: 2)
        configuration.client.http.connections = 1
        configuration.leaseDuration = .milliseconds(1500)   // extended every 0.5 s
        let bridge = h.startBridge(configuration)
        #expect(try await eventually(timeout: .seconds(10)) {
            let held = try await h.count("SELECT count(*)::int FROM queue_jobs WHERE queue = 'citizen-outbox' AND lease_id IS NOT NULL")
            let atThePostbox = try await h.sandboxStatistics().slow
            return held == 2 && atThePostbox == 1
        })
        // Another replica takes both jobs over while one request is at the postbox.
        try await h.db.pool.query("""
            UPDATE queue_jobs SET lease_id = gen_random_uuid(), leased_by = 'other', run_at = now() + interval '1 minute'
            WHERE queue = 'citizen-outbox'
            """)
        // The one in flight answers after 2 s; the waiting one would have been answered by 4 s.
        try await Task.sleep(for: .milliseconds(4500))
        await bridge.stop()
        let stats = try await h.sandboxStatistics()
        #expect(stats.slow == 1, "a request was sent after its lease was lost")
        #expect(stats.messagesStored == 1)
        var states: [String] = []
        for message in messages { states.append(try await h.messageState(message).deliveryState) }
        #expect(states.sorted() == ["delivered", "queued"])
        // The unsent one is left to its new owner: not marked failed.
        #expect(try await h.count("SELECT count(*)::int FROM messages WHERE failure_reason IS NOT NULL") == 0)
        await h.close()
    }

    @Test func slowAnswersPastTheTimeoutAreRetriedUntilThePostboxRecovers() async throws {
        let h = try await Harness.make(faults: FaultInjection(slowRate: 1, slowMilliseconds: 3000))
        let fixture = try await h.seedTenant()
        let app = try await h.seedApplications(fixture)[0]
        let message = try await h.queueMessage(fixture, application: app.id, mailbox: app.mailbox!, kind: "information")
        var configuration = h.bridgeConfiguration()
        configuration.client.http.requestTimeout = .milliseconds(500)
        let bridge = h.startBridge(configuration)
        #expect(try await eventually(timeout: .seconds(10)) { try await h.sandboxStatistics().slow >= 2 })
        #expect(try await h.messageState(message).deliveryState == "queued")
        // The postbox recovers (faults changed at run time over HTTP).
        let response = try await h.inspector.send(.put, h.baseURL + "/sandbox/faults", headers: [("Content-Type", "application/json")],
                                                  body: Array(#"{"serverErrorRate":0,"rateLimitRate":0,"retryAfterSeconds":1,"dropRate":0,"slowRate":0,"slowMilliseconds":0}"#.utf8))
        #expect(response.status == 200)
        #expect(try await h.waitUntilSettled(timeout: .seconds(20)))
        await bridge.stop()
        #expect(try await h.messageState(message).deliveryState == "delivered")
        // Timed-out requests still reached the sandbox after their delay: counted as duplicates, stored once.
        let stats = try await h.sandboxStatistics()
        #expect(stats.messagesStored == 1)
        #expect(try #require(try await h.sandboxMailbox(app.mailbox!)).messages.count == 1)
        // The journal shows the one stored message and how often it arrived.
        let journal = try await h.inspector.send(.get, h.baseURL + "/sandbox/journal?after=0&limit=10")
        #expect(journal.status == 200)
        let page = try JSONDecoder().decode(SandboxStore.JournalPage.self, from: Data(journal.body))
        #expect(page.entries.map(\.id) == [message.uuidString.lowercased()])
        #expect(page.entries.first?.deliveries == stats.duplicates + 1)
        #expect(page.last == 1)
        #expect(try await h.inspector.send(.get, h.baseURL + "/sandbox/journal?limit=0").status == 400)
        await h.close()
    }

    @Test func aWrongClientSecretGetsNoTokenAndNothingIsDelivered() async throws {
        let h = try await Harness.make()
        var configuration = h.bridgeConfiguration().client
        configuration.credentials?.clientSecret = "wrong"
        let client = ServicekontoClient(configuration)
        defer { client.shutdown() }
        let message = PostboxMessage(id: "m-1", mailboxUuid: UUID().uuidString, sender: "Stadt", title: "T", content: "C", service: "S",
                                     stork_qaa_level: 3, applicationId: UUID().uuidString, reference: "ERK-2026-000001")
        do {
            _ = try await client.deliver(message)
            Issue.record("delivered without a valid client secret")
        } catch {
            #expect(error.kind == .transient)          // a configuration problem, not the message's fault
            #expect(error.reason.contains("401"))
        }
        let stats = try await h.sandboxStatistics()
        #expect(stats.tokensIssued == 0)
        #expect(stats.messagesStored == 0)
        await h.close()
    }

    @Test func replyCursorSurvivesABridgeRestart() async throws {
        let h = try await Harness.make()
        let fixture = try await h.seedTenant()
        let app = try await h.seedApplications(fixture)[0]
        let question = try await h.queueMessage(fixture, application: app.id, mailbox: app.mailbox!, kind: "question", enqueue: false)
        for n in 1...5 { try await h.reply(mailbox: app.mailbox!, to: question, text: "Antwort \(n)") }
        let first = h.startBridge(h.bridgeConfiguration(replyPolling: true))
        #expect(try await eventually(timeout: .seconds(10)) { try await h.jobs(on: "citizen-reply").count == 5 })
        await first.stop()
        // The inbox consumes them: a reply queued again would now show up as a new job.
        #expect(try await h.count("WITH d AS (DELETE FROM queue_jobs WHERE queue = 'citizen-reply' RETURNING 1) SELECT count(*) FROM d") == 5)

        for n in 6...10 { try await h.reply(mailbox: app.mailbox!, to: question, text: "Antwort \(n)") }
        let second = h.startBridge(h.bridgeConfiguration(replyPolling: true))
        #expect(try await eventually(timeout: .seconds(10)) { try await h.jobs(on: "citizen-reply").count >= 5 })
        try await Task.sleep(for: .milliseconds(500))
        await second.stop()
        let jobs = try await h.jobs(on: "citizen-reply")
        #expect(jobs.map { $0.payload["text"] as? String } == (6...10).map { "Antwort \($0)" })
        #expect(Set(jobs.compactMap(\.dedupeKey)).count == 5)
        #expect(try await h.db.scalar("SELECT cursor FROM servicekonto_reply_cursors", as: String.self) == "r10")
        await h.close()
    }
}
