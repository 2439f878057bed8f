// Sends N notification e-mails through the Mail library's transport and prints mails/s and
// the connections libcurl opened. Configuration from the environment (SMTP_URL, SMTP_STARTTLS,
// SMTP_CONNECTIONS, …, see SMTPConfiguration). Usage: mail-bench [count] [in-flight]
import Mail
import ServiceRuntime
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
let count = arguments.count > 1 ? Int(arguments[1]) ?? 5000 : 5000
let configuration = try SMTPConfiguration(environment: Environment())
let inFlight = arguments.count > 2 ? Int(arguments[2]) ?? 0 : configuration.connections * 4
let transport = try makeMailTransport(configuration)
let values = NotificationValues(
    reference: "ERK-2026-000123", service: "Anwohnerparkausweis (Änderung)", link: "https://inbox.example/applications/1",
    tenant: "Stadt Erkrath")
let rendered = NotificationKind.newApplication.render(values)
let from = try MailAddress("noreply@erkrath.de", displayName: "Stadt Erkrath")
let to = try MailAddress("sachbearbeitung@erkrath.de")

func message(_ index: Int) throws -> MailMessage {
    try MailMessage(from: from, to: [to], subject: rendered.subject, body: rendered.body, idempotencyKey: "notify-email-\(index)")
}

func sendOne(_ index: Int, transport: any MailTransport) async -> Bool {
    let failure: MailDeliveryError?
    do {
        try await transport.send(try message(index))
        failure = nil
    } catch let error as MailDeliveryError {
        failure = error
    } catch {
        failure = MailDeliveryError(kind: .permanent, reason: "\(error)")
    }
    if let failure { print("send \(index) failed: \(failure)") }
    return failure == nil
}

/// Sends `count` messages with at most `inFlight` sends waiting at once; returns the failures.
func sendAll(count: Int, inFlight: Int, transport: any MailTransport) async -> Int {
    await withTaskGroup(of: Bool.self) { group in
        var next = 0
        var failed = 0
        while next < count {
            if next >= inFlight, let ok = await group.next(), !ok { failed += 1 }
            let index = next
            next += 1
            group.addTask { await sendOne(index, transport: transport) }
        }
        for await ok in group where !ok { failed += 1 }
        return failed
    }
}

let clock = ContinuousClock()
let start = clock.now
let failures = await sendAll(count: count, inFlight: max(1, inFlight), transport: transport)
let elapsed = clock.now - start
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let opened = (transport as? SMTPTransport)?.connectionsOpened ?? 0
print("mails: \(count - failures) sent, \(failures) failed in \((seconds * 1000).rounded() / 1000) s")
print("rate: \(Int((Double(count - failures) / seconds).rounded())) mails/s (transport connections: \(configuration.connections), in flight: \(inFlight))")
print("connections opened (libcurl): \(opened)")
transport.shutdown()
exit(failures == 0 ? 0 : 1)
