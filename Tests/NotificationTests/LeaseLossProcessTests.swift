import Foundation
import JobQueue
import MailTestSupport
import Postgres
import Testing
import TestSupport

/// Two `notification` executables share a burst; one is frozen (SIGSTOP) for twice its lease in
/// the middle of it, as a VM pause or a container freeze would, and then resumed. Each replica
/// sends to an SMTP server of its own that journals every accepted message with its time, and a
/// trigger in the test database logs every claim (job, replica, time): together they say, per
/// job, who sent it when, and under which claim.
@Suite struct LeaseLossProcessTests {
    static let lease: Duration = .seconds(2)

    @Test func aReplicaFrozenPastItsLeaseStartsNoEffectAfterItsDeadlineAndNoneTwice() async throws {
        var options = SMTPServer.Options()
        options.journal = true
        // Each send waits on the server, so a frozen replica is frozen mid-dialogue.
        options.rcptDelay = 0.3
        try await SMTPServer.with(options) { serverA in
            try await SMTPServer.with(options) { serverB in
                try await run(serverA, serverB)
            }
        }
    }

    private func run(_ serverA: SMTPServer, _ serverB: SMTPServer) async throws {
        let harness = try await Harness()
        let seed = try await Seed.make(harness.db)
        try await installClaimLog(harness.db)
        let count = 40
        let jobs = try (0..<count).map { _ in try seed.job(.newApplication, to: seed.member) }
        let ids = try await harness.db.pool.withTransaction { try await harness.queue.enqueue(jobs, in: $0) }
        #expect(ids.count == count)

        let directory = try makeTemporaryDirectory()
        let environment = ["NOTIFY_LEASE_SECONDS": "\(Self.lease.components.seconds)", "NOTIFY_CONCURRENCY": "4"]
        let frozen = try NotificationProcessTests.startService(harness, smtpURL: serverA.url, log: "\(directory)/a.log", environment: environment)
        ChildProcesses.register(frozen)
        let sibling = try NotificationProcessTests.startService(harness, smtpURL: serverB.url, log: "\(directory)/b.log", environment: environment)
        ChildProcesses.register(sibling)
        defer {
            for pid in [frozen, sibling] {
                kill(pid, SIGKILL)
                _ = reap(pid)
                ChildProcesses.unregister(pid)
            }
        }

        // Mid-batch: the replica has sent some mails and holds leases on others.
        let midBatch = try await eventually(timeout: .seconds(30), every: .milliseconds(5)) {
            let held = try await harness.db.scalar(
                "SELECT count(*)::int FROM queue_jobs WHERE leased_by = \(Self.consumerName(frozen)) AND run_at > now()", as: Int.self)
            return try serverA.journal().count >= 2 && held >= 2
        }
        try #require(midBatch, "the replica to freeze never got going")
        kill(frozen, SIGSTOP)
        let stoppedAt = Date().timeIntervalSince1970
        try await Task.sleep(for: Self.lease * 2)
        let resumedAt = Date().timeIntervalSince1970
        kill(frozen, SIGCONT)

        let drained = try await eventually(timeout: .seconds(60), every: .milliseconds(50)) { try await harness.jobsLeft() == 0 }
        #expect(drained)
        // Whatever the resumed replica still had in flight has had time to reach its server.
        try await Task.sleep(for: .seconds(2))

        let claims = try await claimLog(harness.db)
        let sentByFrozen = try serverA.journal()
        let sentBySibling = try serverB.journal()
        // Every mail arrived at least once (the sibling resends what the frozen one had not acked).
        let expected = Set(ids.map { "<notify-email-\($0)@amtsweg.erkrath.de>" })
        #expect(Set(sentByFrozen.map(\.message_id)).union(sentBySibling.map(\.message_id)) == expected)
        // None twice by one replica.
        for (name, journal) in [("frozen", sentByFrozen), ("sibling", sentBySibling)] {
            let twice = Dictionary(grouping: journal, by: \.message_id).filter { $0.value.count > 1 }.keys.sorted()
            #expect(twice.isEmpty, "the \(name) replica sent \(twice.count) mails twice: \(twice)")
        }
        // Every claim the frozen replica made before it woke had its deadline before it woke
        // (claim + lease − margin < freeze + lease < wake): a mail it sent after waking must come
        // from a claim it made after waking.
        let frozenName = Self.consumerName(frozen)
        let late = sentByFrozen.filter { $0.time > resumedAt }.filter { entry in
            let job = Self.jobID(entry.message_id)
            return !claims.contains { $0.job == job && $0.consumer == frozenName && $0.at >= resumedAt }
        }
        #expect(late.isEmpty, "the frozen replica sent \(late.count) mails after its deadline, under claims it made before the freeze: \(late.map(\.message_id))")
        let heldAtStop = claims.filter { $0.consumer == frozenName && $0.at < stoppedAt }.count
        let frozenLog = (try? String(contentsOfFile: "\(directory)/a.log", encoding: .utf8)) ?? ""
        let withheld = frozenLog.components(separatedBy: "e-mail withheld").count - 1
        print("""
            frozen replica: \(sentByFrozen.filter { $0.time <= stoppedAt }.count) mails before the freeze, \
            \(sentByFrozen.filter { $0.time > resumedAt }.count) after waking (\(late.count) under lost leases); \
            \(heldAtStop) claims before the freeze, \(withheld) sends withheld before the end of DATA; sibling: \(sentBySibling.count) mails; \
            \(Set(sentByFrozen.map(\.message_id)).intersection(sentBySibling.map(\.message_id)).count) sent by both
            """)
    }

    static func consumerName(_ pid: pid_t) -> String { "\(ProcessInfo.processInfo.hostName)-\(pid)" }

    static func jobID(_ messageID: String) -> Int64? {
        Int64(messageID.dropFirst("<notify-email-".count).prefix { $0.isNumber })
    }

    struct Claim {
        var job: Int64
        var consumer: String
        var at: Double
    }

    /// Test-only: a trigger that logs each claim of a job (a new lease id) with the database's time.
    private func installClaimLog(_ db: TestDatabase) async throws {
        try await db.pool.query("CREATE TABLE test_claims (job_id bigint, leased_by text, at timestamptz)")
        try await db.pool.query("""
            CREATE FUNCTION test_log_claim() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.lease_id IS NOT NULL AND NEW.lease_id IS DISTINCT FROM OLD.lease_id THEN
                    INSERT INTO test_claims VALUES (NEW.id, NEW.leased_by, clock_timestamp());
                END IF;
                RETURN NEW;
            END $$
            """)
        try await db.pool.query("CREATE TRIGGER test_log_claim AFTER UPDATE ON queue_jobs FOR EACH ROW EXECUTE FUNCTION test_log_claim()")
    }

    private func claimLog(_ db: TestDatabase) async throws -> [Claim] {
        try await db.pool.query("SELECT job_id, leased_by, extract(epoch FROM at)::float8 AS at FROM test_claims").map { row in
            Claim(job: try row.decode("job_id"), consumer: try row.decode("leased_by"), at: try row.decode("at"))
        }
    }
}
