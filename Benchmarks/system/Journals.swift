import Foundation
import MailTestSupport
import SystemTestSupport

/// Reads the SMTP server's journal file and the sandbox's journal incrementally (only what is
/// new since the last call), keeping the first receipt time per application.
final class Journals: @unchecked Sendable {
    /// Reference → wall time of the first e-mail naming it.
    private(set) var firstMail: [String: Double] = [:]
    /// Reference → e-mails naming it.
    private(set) var mailCount: [String: Int] = [:]
    /// Lower-cased application id → wall time the sandbox first stored its first status.
    private(set) var firstStatus: [String: Double] = [:]
    private(set) var statuses = 0
    private(set) var duplicateDeliveries = 0
    private(set) var mails = 0

    private let smtpPath: String
    private var smtpOffset: UInt64 = 0
    private let sandbox: APIClient
    private var sandboxAfter = 0
    private let formatter = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    init(system: AmtswegSystem) {
        smtpPath = "\(system.smtp.spool)/journal.jsonl"
        sandbox = system.sandboxClient
    }

    /// Reads what arrived since the last call.
    func refresh() async throws {
        try readSMTP()
        try await readSandbox()
    }

    private func readSMTP() throws {
        guard let handle = FileHandle(forReadingAtPath: smtpPath) else { return }
        defer { try? handle.close() }
        try handle.seek(toOffset: smtpOffset)
        let data = handle.readDataToEndOfFile()
        // Only complete lines; a line being written is read next time.
        guard let lastNewline = data.lastIndex(of: 10) else { return }
        let complete = data[data.startIndex...lastNewline]
        smtpOffset += UInt64(complete.count)
        let decoder = JSONDecoder()
        for line in complete.split(separator: 10) where !line.isEmpty {
            guard let entry = try? decoder.decode(SMTPJournalEntry.self, from: Data(line)) else { continue }
            mails += 1
            guard let reference = Self.reference(in: entry.subject) else { continue }
            mailCount[reference, default: 0] += 1
            if firstMail[reference] == nil { firstMail[reference] = entry.time }
        }
    }

    private struct Page: Decodable { var entries: [SandboxJournalEntry] }

    private func readSandbox() async throws {
        while true {
            let response = try await sandbox.get("/sandbox/journal?after=\(sandboxAfter)&limit=10000", timeout: 30)
            guard response.status == 200 else { throw BenchError("sandbox journal: \(response)") }
            let page = try JSONDecoder().decode(Page.self, from: Data(response.body))
            for entry in page.entries {
                sandboxAfter = max(sandboxAfter, entry.sequence)
                if entry.deliveries > 1 { duplicateDeliveries += 1 }
                guard entry.kind == "status", let application = entry.applicationId?.lowercased() else { continue }
                statuses += 1
                if firstStatus[application] == nil, let time = try? formatter.parse(entry.receivedAt).timeIntervalSince1970 {
                    firstStatus[application] = time
                }
            }
            if page.entries.count < 10_000 { return }
        }
    }

    /// The first `<PREFIX>-<YEAR>-<NUMBER>` in a subject (e.g. `ERK-2026-000123`).
    static func reference(in subject: String) -> String? {
        for token in subject.split(whereSeparator: { !($0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "-")) }) {
            let parts = token.split(separator: "-", omittingEmptySubsequences: false)
            if parts.count == 3, parts[0].count >= 2, parts[1].count == 4, parts[1].allSatisfy(\.isNumber),
               parts[2].count >= 6, parts[2].allSatisfy(\.isNumber) {
                return String(token)
            }
        }
        return nil
    }
}
