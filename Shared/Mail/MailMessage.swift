import FoundationEssentials

/// One plain-text e-mail, ready to be rendered as RFC 5322 / MIME bytes.
///
/// The `Message-ID` is derived from `idempotencyKey` (e.g. the queue job's key), so sending the
/// same job again produces the same `Message-ID` and receivers can drop the duplicate.
public struct MailMessage: Sendable, Equatable {
    public var from: MailAddress
    public var to: [MailAddress]
    public var subject: String
    /// Plain text; line breaks may be LF or CRLF.
    public var body: String
    public var idempotencyKey: String
    /// Right-hand side of the `Message-ID` after `amtsweg.`; the sender's domain by default.
    public var messageIDDomain: String
    /// Envelope sender (`MAIL FROM`); the `From` address by default.
    public var envelopeSender: String
    /// The `Date` header, seconds since 1970.
    public var date: Int

    public init(
        from: MailAddress, to: [MailAddress], subject: String, body: String, idempotencyKey: String,
        messageIDDomain: String? = nil, envelopeSender: String? = nil, date: Int = MailDate.now()
    ) throws(MailError) {
        guard !to.isEmpty else { throw MailError(code: .invalidAddress, message: "a message needs at least one recipient") }
        try MIMEEncoding.checkHeaderValue(subject, field: "Subject")
        guard !idempotencyKey.isEmpty, idempotencyKey.utf8.count <= 200 else {
            throw MailError(code: .invalidHeader, message: "idempotency key must be 1 to 200 bytes")
        }
        let domain = messageIDDomain ?? from.domain
        guard MailAddress.isValidAddress("x@" + domain) else {
            throw MailError(code: .invalidHeader, message: "Message-ID domain is not a plain domain")
        }
        if let envelopeSender, !MailAddress.isValidAddress(envelopeSender) {
            throw MailError(code: .invalidAddress, message: "envelope sender is not a plain e-mail address")
        }
        self.from = from
        self.to = to
        self.subject = subject
        self.body = body
        self.idempotencyKey = idempotencyKey
        self.messageIDDomain = domain
        self.envelopeSender = envelopeSender ?? from.address
        self.date = date
    }

    /// `<notify-email-123@amtsweg.example.org>`: the key with every character outside RFC 5322
    /// `atext` (and `.`) replaced by `-`.
    public var messageID: String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.".utf8)
        var key = String(decoding: idempotencyKey.utf8.map { allowed.contains($0) ? $0 : UInt8(ascii: "-") }, as: UTF8.self)
        while key.hasPrefix(".") { key.removeFirst() }
        while key.hasSuffix(".") { key.removeLast() }
        key = key.replacing("..", with: ".-")
        if key.isEmpty { key = "-" }
        return "<\(key)@amtsweg.\(messageIDDomain)>"
    }

    /// The envelope recipients (bare addresses).
    public var recipients: [String] { to.map(\.address) }

    /// The whole message: headers, blank line, quoted-printable body, CRLF line endings.
    public func rendered() throws(MailError) -> [UInt8] {
        var headers: [String] = []
        headers.append(MIMEEncoding.addressField("From", [from]))
        headers.append(MIMEEncoding.addressField("To", to))
        headers.append(try MIMEEncoding.headerField("Subject", subject))
        headers.append("Date: " + MailDate.format(secondsSince1970: date))
        headers.append("Message-ID: " + messageID)
        headers.append("Auto-Submitted: auto-generated")
        headers.append("X-Auto-Response-Suppress: All")
        headers.append("MIME-Version: 1.0")
        headers.append("Content-Type: text/plain; charset=utf-8")
        headers.append("Content-Transfer-Encoding: quoted-printable")
        var text = headers.joined(separator: "\r\n")
        text += "\r\n\r\n"
        text += MIMEEncoding.quotedPrintable(body)
        text += "\r\n"
        return Array(text.utf8)
    }
}
