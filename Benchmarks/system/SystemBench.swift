// System load benchmark (issue 10): applications posted to intake at fixed offered rates (open
// loop) and then as fast as the system takes them (closed loop), through all five services with
// aiosmtpd and the postbox sandbox in the loop. Per rate it prints the accepted rate and p50/p99
// latency from intake's 201 to (a) the application visible in the caseworker's inbox by
// long-poll, (b) the e-mail received by the SMTP server, (c) the RECEIVED status stored by the
// sandbox; plus CPU per process, peak RSS of each service, and PostgreSQL commits per application.
//
//   Benchmarks/system/run.sh [--seconds 20] [--rates 100,500,max] [--posters 64] [--connections 64]
//                            [--warmup 200] [--inbox-limit 50] [--statements] [--drain-timeout 300] [--env routing:ROUTING_CONCURRENCY=8]
//
// Everything runs on this machine: a private PostgreSQL with fsync and synchronous_commit on,
// the services' production defaults (no fast-recovery settings), LOG_LEVEL=warning.
import Foundation
import HTTPClient
import HTTPTestSupport
import MailTestSupport
import Postgres
import SystemTestSupport

struct Options: Sendable {
    var seconds = 20.0
    var rates = ["100", "500", "max"]
    var posters = 64
    var connections = 64
    var warmup = 200
    /// The watcher's page size: 50 is the inbox API's default page, what a caseworker client shows.
    var inboxLimit = 50
    var drainTimeout = 300.0
    var environment: [String: [String: String]] = [:]
    /// Print the statements that cost PostgreSQL the most time per phase (pg_stat_statements).
    var statements = false

    init(_ arguments: [String]) throws {
        var index = 0
        func value() throws -> String {
            guard index + 1 < arguments.count else { throw BenchError("\(arguments[index]) needs a value") }
            index += 1
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--seconds": seconds = Double(try value()) ?? seconds
            case "--rates": rates = try value().split(separator: ",").map(String.init)
            case "--posters": posters = Int(try value()) ?? posters
            case "--connections": connections = Int(try value()) ?? connections
            case "--warmup": warmup = Int(try value()) ?? warmup
            case "--inbox-limit": inboxLimit = Int(try value()) ?? inboxLimit
            case "--drain-timeout": drainTimeout = Double(try value()) ?? drainTimeout
            case "--statements": statements = true
            case "--env":
                // service:NAME=VALUE
                let text = try value()
                guard let colon = text.firstIndex(of: ":"), let equals = text.firstIndex(of: "="), colon < equals else {
                    throw BenchError("--env wants service:NAME=VALUE, got \(text)")
                }
                environment[String(text[..<colon]), default: [:]][String(text[text.index(after: colon)..<equals])] = String(text[text.index(after: equals)...])
            default: throw BenchError("unknown argument \(arguments[index])")
            }
            index += 1
        }
        for rate in rates where rate != "max" && Double(rate) == nil { throw BenchError("--rates: \(rate) is neither a number nor max") }
    }
}

/// One accepted application.
struct Posted: Sendable {
    var id: String
    var reference: String
    /// Wall time the request was due (open loop: its scheduled time; closed loop: when it was sent).
    var due: Double
    /// Wall time the 201 arrived.
    var accepted: Double
    /// Open loop: how late the request was handed to the HTTP client (the client falling behind).
    var dispatchLag: Double
}

enum Outcome: Sendable {
    case accepted(Posted)
    case failed(String)
}

/// Posts applications over the keep-alive HTTP client.
struct Poster: Sendable {
    let client: HTTPClient
    let url: String
    let key: String

    private struct Created: Decodable { var id: String; var reference: String }

    func post(_ n: Int, due: Double? = nil, dispatchLag: Double = 0) async -> Outcome {
        let mailbox = UUID().uuidString.lowercased()
        let body = #"{"service":"anwohnerparkausweis","applicant":{"name":"Erika Mustermann \#(n)","email":"erika\#(n)@example.org","#
            + #""address":{"postal_code":"41812","municipality_key":"05370012"},"#
            + #""postbox":{"mailbox_id":"\#(mailbox)","trust_level":"substantial","document_consent":true}},"#
            + #""form":{"kennzeichen":"HS-AB 123"}}"#
        let sent = wallNow()
        do {
            let response = try await client.send(.post, url, headers: [
                ("Authorization", "Bearer \(key)"), ("Idempotency-Key", UUID().uuidString), ("Content-Type", "application/json"),
            ], body: Array(body.utf8))
            let accepted = wallNow()
            guard response.status == 201, let created = try? JSONDecoder().decode(Created.self, from: Data(response.body)) else {
                return .failed("\(response.status) \(response.bodyText.prefix(200))")
            }
            return .accepted(Posted(id: created.id.lowercased(), reference: created.reference, due: due ?? sent, accepted: accepted, dispatchLag: dispatchLag))
        } catch {
            return .failed("\(error)")
        }
    }
}

/// CPU seconds of every process involved, at one moment.
struct CPUSnapshot {
    var time: Double
    var seconds: [String: Double]
}

struct PhaseReport {
    var label: String
    var offered: String
    var accepted: Int
    var failed: Int
    var firstFailure: String?
    var postingSeconds: Double
    var acceptedPerSecond: Double
    var intakeLatency: [Double]
    var dispatchLag: [Double]
    var inbox: [Double]
    var mail: [Double]
    var status: [Double]
    var inboxUnseen: Int
    var mailMissing: Int
    var statusMissing: Int
    var endToEndPerSecond: Double
    var drainSeconds: Double
    var commitsPerApplication: Double
    var walSyncsPerApplication: Double?
    var watcherAnswers: Int
    var watcherExtraPages: Int
    var cpu: [(String, Double, Double)]  // name, % of one core over the phase, µs per application
    var load: (String, String)
}

@main
struct SystemBench {
    static let processOrder = ["intake", "routing", "inbox", "notification", "servicekonto-bridge", "servicekonto-sandbox", "aiosmtpd", "postgres", "system-bench"]

    static func main() async throws {
        ChildProcesses.exitOnInterrupt()  // Ctrl-C stops the services, aiosmtpd and PostgreSQL too
        try await start(try Options(Array(CommandLine.arguments.dropFirst())))
    }

    /// Off the main actor: the system's body runs on the global executor.
    nonisolated static func start(_ options: Options) async throws {
        say("== system benchmark (issue 10): rates \(options.rates.joined(separator: ",")), \(Int(options.seconds)) s each, \(options.posters) posters for max")
        say("load average at start: \(Proc.loadAverage())")
        var systemOptions = AmtswegSystem.Options()
        systemOptions.privatePostgres = true
        systemOptions.durablePostgres = true
        systemOptions.fastRecovery = false
        systemOptions.logLevel = "warning"
        systemOptions.environment = options.environment
        systemOptions.statementStatistics = options.statements
        let started = monoNow()
        try await AmtswegSystem.with(systemOptions) { system in
            say(String(format: "system up in %.1f s (PostgreSQL fsync on, services with production defaults)", monoNow() - started))
            if !options.environment.isEmpty { say("environment overrides: \(options.environment)") }
            try await run(system, options)
        }
    }

    static func run(_ system: AmtswegSystem, _ options: Options) async throws {
        let version = try await system.database.query("SELECT current_setting('server_version') AS v, current_setting('fsync') AS f, current_setting('synchronous_commit') AS s")
        say("PostgreSQL \(try version[0].decode("v", as: String.self)), fsync \(try version[0].decode("f", as: String.self)), synchronous_commit \(try version[0].decode("s", as: String.self)); "
              + "socket \(system.postgres.directory ?? "?") port \(system.postgres.port), logs in \(system.logDirectory)")
        let client = HTTPClient(HTTPClientConfiguration(connections: options.connections, requestTimeout: .seconds(60)))
        defer { client.shutdown() }
        let poster = Poster(client: client, url: "http://127.0.0.1:\(system.intake.port)/v1/applications", key: system.demo.erkelenzIntakeKey)
        let watcher = InboxWatcher(port: system.inbox.port, token: system.demo.annaToken, limit: options.inboxLimit)
        watcher.start()
        let journals = Journals(system: system)
        let pids = processIDs(system)
        var reports: [PhaseReport] = []
        var peaks: [(String, [String: Int])] = []
        var counter = 0

        if options.warmup > 0 {
            say("== warm-up: \(options.warmup) applications at 50/s (not reported)")
            let outcomes = await openLoop(poster, rate: 50, count: options.warmup, first: counter)
            counter += options.warmup
            let posted = outcomes.compactMap { if case .accepted(let p) = $0 { p } else { nil } }
            guard !posted.isEmpty else { throw BenchError("warm-up: no application accepted: \(outcomes.first.map { "\($0)" } ?? "")") }
            _ = try await drain(posted, journals: journals, watcher: watcher, timeout: options.drainTimeout)
            try await Task.sleep(for: .seconds(2))
        }

        for rate in options.rates {
            let label = rate == "max" ? "max (\(options.posters) posters, closed loop)" : "\(rate)/s (open loop)"
            say("== phase \(label), \(Int(options.seconds)) s; load average \(Proc.loadAverage())")
            let loadBefore = Proc.loadAverage()
            let before = try await dbCounters(system)
            if options.statements { try await resetStatements(system) }
            let watcherBefore = watcher.counters.value
            let cpuBefore = cpuSnapshot(pids)
            let outcomes: [Outcome]
            if let value = Double(rate) {
                outcomes = await openLoop(poster, rate: value, count: Int(value * options.seconds), first: counter)
            } else {
                outcomes = await closedLoop(poster, posters: options.posters, seconds: options.seconds, first: counter)
            }
            counter += outcomes.count
            let posted = outcomes.compactMap { if case .accepted(let p) = $0 { p } else { nil } }
            let failures = outcomes.compactMap { if case .failed(let text) = $0 { text } else { nil } }
            say("posted: \(posted.count) accepted, \(failures.count) failed\(failures.first.map { " (first: \($0))" } ?? ""); draining")
            let drainEnd = try await drain(posted, journals: journals, watcher: watcher, timeout: options.drainTimeout)
            let cpuAfter = cpuSnapshot(pids)
            let loadAfter = Proc.loadAverage()
            try await Task.sleep(for: .seconds(2))  // PostgreSQL flushes backend statistics at most once a second
            let after = try await dbCounters(system)
            let watcherAfter = watcher.counters.value
            var report = evaluate(label: label, offered: rate == "max" ? "max" : "\(rate)/s", posted: posted, failures: failures,
                                  journals: journals, watcher: watcher, drainEnd: drainEnd)
            let count = Double(max(posted.count, 1))
            report.commitsPerApplication = Double(after.commits - before.commits) / count
            if let a = after.walSyncs, let b = before.walSyncs { report.walSyncsPerApplication = Double(a - b) / count }
            report.watcherAnswers = watcherAfter.answers200 - watcherBefore.answers200
            report.watcherExtraPages = watcherAfter.extraPages - watcherBefore.extraPages
            let elapsed = cpuAfter.time - cpuBefore.time
            report.cpu = processOrder.compactMap { name in
                guard let end = cpuAfter.seconds[name] else { return nil }
                let used = end - (cpuBefore.seconds[name] ?? 0)
                return (name, used / elapsed * 100, used / count * 1e6)
            }
            // What else ran on the machine meanwhile (another engineer's builds and tests).
            let ours = report.cpu.reduce(0) { $0 + $1.1 }
            let machine = ((cpuAfter.seconds["whole machine"] ?? 0) - (cpuBefore.seconds["whole machine"] ?? 0)) / elapsed * 100
            report.cpu.append(("outside the benchmark", max(0, machine - ours), max(0, machine - ours) * elapsed / 100 / count * 1e6))
            report.cpu.append(("whole machine (of \(ProcessInfo.processInfo.activeProcessorCount * 100) %)", machine, machine * elapsed / 100 / count * 1e6))
            report.load = (loadBefore, loadAfter)
            reports.append(report)
            peaks.append((report.offered, peakRSS(system, pids)))
            printPhase(report)
            if options.statements { try await printStatements(system, applications: posted.count) }
        }
        let counters = watcher.counters.value
        await watcher.stop()
        if counters.errors > 0 { say("inbox watcher errors: \(counters.errors) (last: \(counters.lastError))") }
        if journals.duplicateDeliveries > 0 { say("sandbox: \(journals.duplicateDeliveries) entries delivered more than once") }
        printSummary(reports, peaks: peaks)
        say("load average at end: \(Proc.loadAverage())")
    }

    // MARK: Load

    /// Open loop: request i is due at start + i/rate whatever happened to earlier ones; latency
    /// counts from the due time, so a stall counts against every request that should have gone out.
    static func openLoop(_ poster: Poster, rate: Double, count: Int, first: Int) async -> [Outcome] {
        let startMono = monoNow() + 0.1
        let wallOffset = wallNow() - monoNow()
        return await withTaskGroup(of: Outcome.self) { group in
            for i in 0..<count {
                let due = startMono + Double(i) / rate
                let wait = due - monoNow()
                if wait > 0.000_2 { try? await Task.sleep(for: .seconds(wait)) }
                let lag = max(0, monoNow() - due)
                group.addTask { await poster.post(first + i, due: due + wallOffset, dispatchLag: lag) }
            }
            var outcomes: [Outcome] = []
            outcomes.reserveCapacity(count)
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
    }

    /// Closed loop: `posters` tasks each post the next application as soon as the last is answered.
    static func closedLoop(_ poster: Poster, posters: Int, seconds: Double, first: Int) async -> [Outcome] {
        let deadline = monoNow() + seconds
        return await withTaskGroup(of: [Outcome].self) { group in
            for p in 0..<posters {
                group.addTask {
                    var outcomes: [Outcome] = []
                    var n = first + p
                    while monoNow() < deadline {
                        outcomes.append(await poster.post(n))
                        n += posters
                    }
                    return outcomes
                }
            }
            var all: [Outcome] = []
            for await part in group { all += part }
            return all
        }
    }

    /// Waits until every application has its e-mail and its status (and, give or take ids the
    /// watcher cannot see, its inbox entry); returns the wall time it ended.
    static func drain(_ posted: [Posted], journals: Journals, watcher: InboxWatcher, timeout: Double) async throws -> Double {
        let deadline = monoNow() + timeout
        var lastProgress = monoNow()
        var lastInboxMissing = -1
        var inboxStableSince = monoNow()
        while true {
            try await journals.refresh()
            let mailMissing = posted.reduce(0) { $0 + (journals.firstMail[$1.reference] == nil ? 1 : 0) }
            let statusMissing = posted.reduce(0) { $0 + (journals.firstStatus[$1.id] == nil ? 1 : 0) }
            let inboxMissing = watcher.seen.with { seen in posted.reduce(0) { $0 + (seen[$1.id] == nil ? 1 : 0) } }
            if inboxMissing != lastInboxMissing { lastInboxMissing = inboxMissing; inboxStableSince = monoNow() }
            // An id the watcher missed never shows up: stop waiting for it 3 s after the last change.
            if mailMissing == 0, statusMissing == 0, inboxMissing == 0 || monoNow() - inboxStableSince > 3 { return wallNow() }
            if monoNow() > deadline {
                say("drain timed out after \(Int(timeout)) s: missing e-mails \(mailMissing), statuses \(statusMissing), inbox \(inboxMissing)")
                return wallNow()
            }
            if monoNow() - lastProgress > 5 {
                say("  … waiting for e-mails \(mailMissing), statuses \(statusMissing), inbox \(inboxMissing); load \(Proc.loadAverage())")
                lastProgress = monoNow()
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    // MARK: Measurements

    static func evaluate(label: String, offered: String, posted: [Posted], failures: [String], journals: Journals,
                         watcher: InboxWatcher, drainEnd: Double) -> PhaseReport {
        let seen = watcher.seen.value
        let postStart = posted.map(\.due).min() ?? 0
        let postEnd = posted.map(\.accepted).max() ?? 0
        let window = max(postEnd - postStart, 1e-9)
        var inbox: [Double] = [], mail: [Double] = [], status: [Double] = []
        var lastCompletion = postEnd
        var complete = 0
        for p in posted {
            let a = seen[p.id], b = journals.firstMail[p.reference], c = journals.firstStatus[p.id]
            if let a { inbox.append(a - p.accepted) }
            if let b { mail.append(b - p.accepted) }
            if let c { status.append(c - p.accepted) }
            if let b, let c {
                complete += 1
                lastCompletion = max(lastCompletion, b, c, a ?? 0)
            }
        }
        return PhaseReport(
            label: label, offered: offered, accepted: posted.count, failed: failures.count, firstFailure: failures.first,
            postingSeconds: window, acceptedPerSecond: Double(posted.count) / window,
            intakeLatency: posted.map { $0.accepted - $0.due }.sorted(), dispatchLag: posted.map(\.dispatchLag).sorted(),
            inbox: inbox.sorted(), mail: mail.sorted(), status: status.sorted(),
            inboxUnseen: posted.count - inbox.count, mailMissing: posted.count - mail.count, statusMissing: posted.count - status.count,
            endToEndPerSecond: Double(complete) / max(lastCompletion - postStart, 1e-9), drainSeconds: lastCompletion - postEnd,
            commitsPerApplication: 0, walSyncsPerApplication: nil, watcherAnswers: 0, watcherExtraPages: 0, cpu: [], load: ("", ""))
    }

    static func resetStatements(_ system: AmtswegSystem) async throws {
        try await system.database.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        try await system.database.query("SELECT pg_stat_statements_reset()")
    }

    /// The 15 statements with the most execution time in the phase, across all databases' users.
    static func printStatements(_ system: AmtswegSystem, applications: Int) async throws {
        let rows = try await system.database.query("""
            SELECT calls, total_exec_time, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
            FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15
            """)
        say("statements by execution time (calls per application, mean ms, total ms):")
        for row in rows {
            let calls = try row.decode("calls", as: Int64.self), total = try row.decode("total_exec_time", as: Double.self)
            say(String(format: "  %6.2f/app %7.3f ms %8.0f ms  ", Double(calls) / Double(max(applications, 1)), total / Double(max(calls, 1)), total)
                + (try row.decode("query", as: String.self)))
        }
    }

    static func dbCounters(_ system: AmtswegSystem) async throws -> (commits: Int64, walSyncs: Int64?) {
        let rows = try await system.database.query("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        let commits = try rows[0].decode("xact_commit", as: Int64.self)
        let wal = try? await system.database.query("SELECT wal_sync FROM pg_stat_wal")
        return (commits, try wal.map { try $0[0].decode("wal_sync", as: Int64.self) })
    }

    /// Process ids by name; PostgreSQL is the postmaster (its backends are added at each reading).
    static func processIDs(_ system: AmtswegSystem) -> [String: Int32] {
        var pids: [String: Int32] = ["system-bench": getpid()]
        for name in AmtswegSystem.serviceNames { if let pid = system.services[name]?.pid { pids[name] = pid } }
        if let pid = system.sandbox.pid { pids["servicekonto-sandbox"] = pid }
        if let pid = Proc.find(["smtp_server.py", system.smtp.spool]) { pids["aiosmtpd"] = pid }
        if let directory = system.postgres.directory,
           let text = try? String(contentsOfFile: "\(directory)/data/postmaster.pid", encoding: .utf8),
           let pid = text.split(separator: "\n").first.flatMap({ Int32($0) }) {
            pids["postgres"] = pid
        }
        return pids
    }

    static func cpuSnapshot(_ pids: [String: Int32]) -> CPUSnapshot {
        var seconds: [String: Double] = [:]
        for (name, pid) in pids {
            seconds[name] = name == "postgres" ? Proc.tree(pid).reduce(0) { $0 + Proc.cpuSeconds($1) } : Proc.cpuSeconds(pid)
        }
        seconds["whole machine"] = Proc.machineBusySeconds()
        return CPUSnapshot(time: monoNow(), seconds: seconds)
    }

    static func peakRSS(_ system: AmtswegSystem, _ pids: [String: Int32]) -> [String: Int] {
        var peaks: [String: Int] = [:]
        for name in AmtswegSystem.serviceNames { peaks[name] = system.services[name]?.peakResidentBytes() }
        peaks["servicekonto-sandbox"] = system.sandbox.peakResidentBytes()
        if let pid = pids["aiosmtpd"] { peaks["aiosmtpd"] = processStatusBytes(pid, "VmHWM") }
        if let pid = pids["postgres"] {
            // Shared buffers count in every backend; the largest single process is the honest figure.
            peaks["postgres (largest process)"] = Proc.tree(pid).compactMap { processStatusBytes($0, "VmHWM") }.max()
        }
        peaks["system-bench"] = processStatusBytes(getpid(), "VmHWM")
        return peaks
    }

    // MARK: Output

    static func latency(_ values: [Double]) -> String {
        "p50 \(ms(percentile(values, 0.5))) ms, p99 \(ms(percentile(values, 0.99))) ms, max \(ms(values.last ?? .nan)) ms"
    }

    static func printPhase(_ r: PhaseReport) {
        say(String(format: "accepted %d in %.1f s = %.0f/s (failed %d); intake latency %@", r.accepted, r.postingSeconds, r.acceptedPerSecond, r.failed, latency(r.intakeLatency)))
        if r.offered != "max" { say("  client dispatch lag: \(latency(r.dispatchLag)) (how late requests were handed to the HTTP client)") }
        say("  201 → inbox (long-poll): \(latency(r.inbox)); not seen by the watcher: \(r.inboxUnseen)")
        say("  201 → e-mail received:   \(latency(r.mail)); missing: \(r.mailMissing)")
        say("  201 → status at sandbox: \(latency(r.status)); missing: \(r.statusMissing)")
        say(String(format: "  end-to-end %.0f applications/s (first due → last e-mail/status), drain after the last 201 %.1f s", r.endToEndPerSecond, r.drainSeconds))
        say(String(format: "  PostgreSQL: %.2f commits per application (all transactions of the database, reads included), %@ WAL syncs per application",
                     r.commitsPerApplication, r.walSyncsPerApplication.map { String(format: "%.2f", $0) } ?? "—"))
        say("  inbox watcher: \(r.watcherAnswers) answers with changes, \(r.watcherExtraPages) extra pages")
        say("  CPU over the phase (% of one core; µs per application): "
              + r.cpu.map { String(format: "%@ %.0f%% %.0f", $0.0, $0.1, $0.2) }.joined(separator: ", "))
        say("  load average \(r.load.0) → \(r.load.1)")
    }

    static func printSummary(_ reports: [PhaseReport], peaks: [(String, [String: Int])]) {
        say("\n== summary (markdown)\n")
        say("| offered | accepted/s | end-to-end/s | drain | 201→inbox p50 / p99 | 201→e-mail p50 / p99 | 201→status p50 / p99 | intake p99 | commits/app | WAL syncs/app | unseen in inbox |")
        say("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in reports {
            say(String(format: "| %@ | %.0f | %.0f | %.1f s | %@ / %@ ms | %@ / %@ ms | %@ / %@ ms | %@ ms | %.2f | %@ | %d |",
                         r.offered, r.acceptedPerSecond, r.endToEndPerSecond, r.drainSeconds,
                         ms(percentile(r.inbox, 0.5)), ms(percentile(r.inbox, 0.99)), ms(percentile(r.mail, 0.5)), ms(percentile(r.mail, 0.99)),
                         ms(percentile(r.status, 0.5)), ms(percentile(r.status, 0.99)), ms(percentile(r.intakeLatency, 0.99)),
                         r.commitsPerApplication, r.walSyncsPerApplication.map { String(format: "%.2f", $0) } ?? "—", r.inboxUnseen))
        }
        say("\nCPU, % of one core averaged over each phase (posting and drain):\n")
        say("| process | " + reports.map(\.offered).joined(separator: " | ") + " |")
        say("|---|" + reports.map { _ in "---|" }.joined())
        for name in processOrder + ["outside the benchmark", "whole machine (of \(ProcessInfo.processInfo.activeProcessorCount * 100) %)"] {
            let cells = reports.map { r in r.cpu.first { $0.0 == name }.map { String(format: "%.0f %%", $0.1) } ?? "—" }
            say("| \(name) | " + cells.joined(separator: " | ") + " |")
        }
        say("\nPeak RSS (VmHWM, MiB) after each phase:\n")
        say("| process | " + peaks.map(\.0).joined(separator: " | ") + " |")
        say("|---|" + peaks.map { _ in "---|" }.joined())
        for name in AmtswegSystem.serviceNames + ["servicekonto-sandbox", "aiosmtpd", "postgres (largest process)", "system-bench"] {
            say("| \(name) | " + peaks.map { mib($0.1[name]) }.joined(separator: " | ") + " |")
        }
        if let last = reports.last(where: { $0.offered == "max" }) {
            say(String(format: "\ntarget ≥ 1,000 applications/s sustained: %@ (accepted %.0f/s, end-to-end %.0f/s)",
                         last.endToEndPerSecond >= 1000 ? "met" : "NOT met", last.acceptedPerSecond, last.endToEndPerSecond))
        }
        if let hundred = reports.first(where: { $0.offered == "100/s" }) {
            let p99 = percentile(hundred.inbox, 0.99)
            say("target p99 intake→inbox ≤ 25 ms at 100/s: \(p99 <= 0.025 ? "met" : "NOT met") (\(ms(p99)) ms)")
        }
    }
}
