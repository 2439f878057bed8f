import Lease

/// Something that delivers a message: SMTP, or a spool folder.
///
/// `send` returns when the message was handed over (SMTP `250` after the data, or the file
/// renamed into place) and throws a ``MailDeliveryError`` otherwise. Sending the same message
/// twice is allowed: the `Message-ID` stays the same. With a `deadline`, the message is withheld
/// (kind `.leaseLost`) once it has passed at the point of no return: before the end of SMTP
/// DATA, before the rename into the spool.
public protocol MailTransport: Sendable {
    func send(_ message: MailMessage, before deadline: LeaseDeadline?) async throws(MailDeliveryError)
    /// Closes connections and ends worker threads once queued sends are done.
    func shutdown()
}

extension MailTransport {
    /// Sends with no deadline.
    public func send(_ message: MailMessage) async throws(MailDeliveryError) {
        try await send(message, before: nil)
    }
}

/// The transport `configuration.url` names: `smtp://`/`smtps://` or `file:///path`.
public func makeMailTransport(_ configuration: SMTPConfiguration) throws(MailError) -> any MailTransport {
    switch try configuration.endpoint {
    case .smtp:
        return try SMTPTransport(configuration)
    case .spool(let directory):
        return try FileSpoolTransport(directory: directory)
    }
}
