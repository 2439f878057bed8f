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

    private let system: AmtswegSystem
    private var smtpOffset: UInt64 = 0
    private var sandboxAfter = 0

    init(system: AmtswegSystem) {
        self.system = system
    }

    /// Reads what arrived since the last call.
    func refresh() async throws {
        let (mailEntries, next) = try system.smtp.journal(from: smtpOffset)
        smtpOffset = next
        for entry in mailEntries {
            mails += 1
            guard let reference = entry.reference else { continue }
            mailCount[reference, default: 0] += 1
            if firstMail[reference] == nil { firstMail[reference] = entry.time }
        }
        let entries = try await system.sandboxJournal(after: sandboxAfter)
        sandboxAfter += entries.count
        for entry in entries {
            if entry.deliveries > 1 { duplicateDeliveries += 1 }
            guard entry.kind == "status", let application = entry.applicationId?.lowercased() else { continue }
            statuses += 1
            if firstStatus[application] == nil, let time = entry.receivedTime { firstStatus[application] = time }
        }
    }
}
