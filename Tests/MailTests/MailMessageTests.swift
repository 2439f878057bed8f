import Foundation
@testable import Mail
import NotificationTemplates
import ServiceRuntime
import MailTestSupport
import Testing

@Suite struct MailMessageTests {
    let from = try! MailAddress("noreply@erkrath.de", displayName: "Stadt Erkrath – Bürgerbüro")
    let to = try! MailAddress("sachbearbeitung@erkrath.de")

    func text(_ message: MailMessage) throws -> String { String(decoding: try message.rendered(), as: UTF8.self) }

    @Test func headersAndCRLF() throws {
        let message = try MailMessage(
            from: from, to: [to], subject: "Neuer Antrag ERK-2026-000123", body: "Hallo\nWelt\n",
            idempotencyKey: "notify-email-123", date: 1_795_435_466)
        let rendered = try text(message)
        #expect(rendered.contains("\r\nDate: Mon, 23 Nov 2026 12:04:26 +0000\r\n"))
        #expect(rendered.contains("\r\nMessage-ID: <notify-email-123@amtsweg.erkrath.de>\r\n"))
        #expect(rendered.contains("\r\nAuto-Submitted: auto-generated\r\n"))
        #expect(rendered.contains("\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"))
        #expect(rendered.contains("\r\nSubject: Neuer Antrag ERK-2026-000123\r\n"))
        #expect(!rendered.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        #expect(rendered.utf8.allSatisfy { $0 < 128 })
    }

    @Test func messageIDIsStableAndSanitised() throws {
        let a = try MailMessage(from: from, to: [to], subject: "x", body: "y", idempotencyKey: "job 7/<a>", date: 1)
        let b = try MailMessage(from: from, to: [to], subject: "other", body: "z", idempotencyKey: "job 7/<a>", date: 2)
        #expect(a.messageID == b.messageID)
        #expect(a.messageID == "<job-7/-a-@amtsweg.erkrath.de>")
    }

    @Test func headerInjectionIsRejected() throws {
        #expect(throws: MailError.self) {
            try MailMessage(from: from, to: [to], subject: "Hallo\r\nBcc: victim@example.org", body: "", idempotencyKey: "k")
        }
        #expect(throws: MailError.self) { try MailMessage(from: from, to: [to], subject: "a\nb", body: "", idempotencyKey: "k") }
        #expect(throws: MailError.self) { try MailAddress("a@b.de\r\nBcc: c@d.de") }
        #expect(throws: MailError.self) { try MailAddress("a@b.de", displayName: "x\ny") }
        #expect(throws: MailError.self) { try MailAddress("<a@b.de>") }
        #expect(throws: MailError.self) { try MailAddress("no-at-sign") }
    }

    @Test func subjectWithUmlautsIsEncodedAndFolded() throws {
        let subject = String(repeating: "Größenänderung der Überfahrt für Anwohnerparkausweis ", count: 4)
        let message = try MailMessage(from: from, to: [to], subject: subject, body: "", idempotencyKey: "k")
        let rendered = try text(message)
        let headerBlock = rendered.components(separatedBy: "\r\n\r\n")[0]
        for line in headerBlock.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 76, "\(line)") }
        #expect(headerBlock.contains("Subject: =?utf-8?B?"))
    }

    @Test func longASCIISubjectIsFoldedAtSpaces() throws {
        let subject = (1...30).map { "Wort\($0)" }.joined(separator: " ")
        let header = try MIMEEncoding.headerField("Subject", subject)
        let lines = header.components(separatedBy: "\r\n")
        #expect(lines.count > 1)
        #expect(lines.allSatisfy { $0.utf8.count <= 76 })
        #expect(lines.joined() == "Subject: " + subject)
    }

    @Test func quotedPrintable() {
        #expect(MIMEEncoding.quotedPrintable("Grüße") == "Gr=C3=BC=C3=9Fe")
        #expect(MIMEEncoding.quotedPrintable("a=b") == "a=3Db")
        #expect(MIMEEncoding.quotedPrintable("trailing \nx") == "trailing=20\r\nx")
        #expect(MIMEEncoding.quotedPrintable(".\n.x") == "=2E\r\n=2Ex")
        let long = String(repeating: "ä", count: 100) + " " + String(repeating: "x", count: 200)
        let encoded = MIMEEncoding.quotedPrintable(long)
        let lines = encoded.components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.utf8.count <= 76 })
        #expect(lines.dropLast().allSatisfy { $0.hasSuffix("=") })
        // Decoding gives the input back.
        var bytes: [UInt8] = []
        let joined = Array(encoded.replacingOccurrences(of: "=\r\n", with: "").utf8)
        var index = 0
        while index < joined.count {
            if joined[index] == UInt8(ascii: "=") {
                bytes.append(UInt8(String(decoding: joined[(index + 1)...(index + 2)], as: UTF8.self), radix: 16)!)
                index += 3
            } else {
                bytes.append(joined[index]); index += 1
            }
        }
        #expect(String(decoding: bytes, as: UTF8.self) == long)
    }
}

@Suite struct TemplateTests {
    let values = NotificationValues(
        reference: "ERK-2026-000123", service: "Anwohnerparkausweis", link: "https://inbox.example/a/1", tenant: "Stadt Erkrath")

    @Test func builtInDefaultsAreGermanAndOnlyCarryTheValues() {
        for kind in NotificationKind.allCases {
            let rendered = kind.render(values)
            #expect(rendered.fallbackReason == nil)
            #expect(rendered.subject.contains("ERK-2026-000123"))
            #expect(rendered.body.contains("Anwohnerparkausweis"))
            #expect(rendered.body.contains("https://inbox.example/a/1"))
            #expect(rendered.body.contains("Guten Tag"))
            #expect(!rendered.body.contains("{{") && !rendered.subject.contains("{{"))
        }
        #expect(NotificationKind.newApplication.render(values).body.contains("neuer Antrag"))
        #expect(NotificationKind.applicantReplied.render(values).body.contains("geantwortet"))
        #expect(NotificationKind.deliveryFailed.render(values).body.contains("nicht in das Postfach"))
    }

    @Test func theCatalogHoldsExactlyTheseEmailsWithThePlaceholdersTheSenderFills() throws {
        #expect(TemplateCatalog.kinds.filter(\.isEmail).map(\.name) == NotificationKind.allCases.map { "email." + $0.rawValue })
        for kind in NotificationKind.allCases {
            #expect(Set(kind.templateKind.placeholders) == Set(values.dictionary.keys), "\(kind)")
            #expect(kind.defaultTemplate == MailTemplate(subject: kind.templateKind.defaultSubject, body: kind.templateKind.defaultBody))
            #expect(try MailTemplate.render(kind.templateKind.defaultSubject, values: values.dictionary).contains("ERK-2026-000123"), "\(kind)")
        }
        #expect(MailTemplate.placeholders == ["reference", "service", "link", "tenant"])
    }

    @Test func tenantTemplateIsUsed() {
        let template = MailTemplate(subject: "Eingang {{ reference }}", body: "Dienst {{service}} – {{link}} ({{tenant}})")
        let rendered = NotificationKind.newApplication.render(values, tenantTemplate: template)
        #expect(rendered == RenderedNotification(
            subject: "Eingang ERK-2026-000123",
            body: "Dienst Anwohnerparkausweis – https://inbox.example/a/1 (Stadt Erkrath)", fallbackReason: nil))
    }

    @Test(arguments: [
        MailTemplate(subject: "Eingang {{applicant_name}}", body: "x"),
        MailTemplate(subject: "Eingang {{reference}", body: "x"),
        MailTemplate(subject: "Eingang {{reference}}", body: "x }} y"),
        MailTemplate(subject: "Eingang", body: "{{ {{link}} }}"),
        MailTemplate(subject: "", body: "x"),
        MailTemplate(subject: "x", body: "  \n "),
        MailTemplate(subject: "x\r\nBcc: a@b.de", body: "x"),
    ])
    func brokenTemplateFallsBackToDefault(template: MailTemplate) {
        let rendered = NotificationKind.applicantReplied.render(values, tenantTemplate: template)
        #expect(rendered.fallbackReason != nil)
        #expect(rendered.subject == NotificationKind.applicantReplied.render(values).subject)
        #expect(rendered.body == NotificationKind.applicantReplied.render(values).body)
    }

    @Test func valuesCannotBreakTheSubject() throws {
        var values = values
        values.service = "Park\r\nBcc: x@y.de"
        let rendered = NotificationKind.newApplication.render(values)
        #expect(!rendered.subject.contains("\r") && !rendered.subject.contains("\n"))
        _ = try MailMessage(from: MailAddress("a@b.de"), to: [MailAddress("c@d.de")], subject: rendered.subject, body: rendered.body, idempotencyKey: "k")
    }
}

@Suite struct ConfigurationTests {
    @Test func smtpURLHasNoDefault() throws {
        let missing = #expect(throws: ConfigurationError.self) { try SMTPConfiguration(environment: Environment([:])) }
        #expect(missing?.variable == "SMTP_URL")
    }

    @Test func defaults() throws {
        let configuration = try SMTPConfiguration(environment: Environment(["SMTP_URL": "file:///tmp/amtsweg-mail"]))
        #expect(try configuration.endpoint == .spool(directory: "/tmp/amtsweg-mail"))
        #expect(configuration.startTLS == .required)
        #expect(configuration.connectTimeout == .seconds(10))
    }

    @Test func fromEnvironment() throws {
        let directory = try makeTemporaryDirectory()
        try "geheim\n".write(toFile: "\(directory)/password", atomically: true, encoding: .utf8)
        let configuration = try SMTPConfiguration(environment: Environment([
            "SMTP_URL": "smtps://mail.example.org:465", "SMTP_USERNAME": "amtsweg", "SMTP_PASSWORD_FILE": "\(directory)/password",
            "SMTP_STARTTLS": "off", "SMTP_CA_FILE": "/etc/ca.pem", "SMTP_FROM": "Kreis Mettmann <noreply@kreis-mettmann.de>",
            "SMTP_CONNECT_TIMEOUT": "2.5", "SMTP_TIMEOUT": "30", "SMTP_CONNECTIONS": "4",
        ]))
        #expect(try configuration.endpoint == .smtp(url: "smtps://mail.example.org:465"))
        #expect(configuration.password == "geheim")
        #expect(configuration.startTLS == .off)
        #expect(configuration.caFile == "/etc/ca.pem")
        #expect(configuration.from == (try MailAddress("noreply@kreis-mettmann.de", displayName: "Kreis Mettmann")))
        #expect(configuration.connectTimeout == .milliseconds(2500))
        #expect(configuration.connections == 4)
    }

    @Test func passwordFileIsIgnoredWithoutUserName() throws {
        let directory = try makeTemporaryDirectory()
        FileManager.default.createFile(atPath: "\(directory)/empty", contents: Data())
        let configuration = try SMTPConfiguration(environment: Environment(["SMTP_URL": "file:///tmp/amtsweg-mail", "SMTP_PASSWORD_FILE": "\(directory)/empty"]))
        #expect(configuration.username == nil && configuration.password == nil)
        #expect(throws: ConfigurationError.self) {
            try SMTPConfiguration(environment: Environment(["SMTP_URL": "smtp://mail.example.org", "SMTP_USERNAME": "u", "SMTP_PASSWORD_FILE": "\(directory)/empty"]))
        }
    }

    @Test func rejectsBadValues() {
        #expect(throws: ConfigurationError.self) { try SMTPConfiguration(environment: Environment(["SMTP_URL": "http://x"])) }
        #expect(throws: ConfigurationError.self) { try SMTPConfiguration(environment: Environment(["SMTP_URL": "smtp://u:p@host"])) }
        #expect(throws: ConfigurationError.self) { try SMTPConfiguration(environment: Environment(["SMTP_URL": "smtp://mail.example.org", "SMTP_STARTTLS": "maybe"])) }
        #expect(throws: ConfigurationError.self) { try SMTPConfiguration(environment: Environment(["SMTP_URL": "smtp://mail.example.org", "SMTP_FROM": "nonsense"])) }
        #expect(throws: ConfigurationError.self) { try SMTPConfiguration(environment: Environment(["SMTP_URL": "smtp://mail.example.org", "SMTP_USERNAME": "u"])) }
        #expect(throws: ConfigurationError.self) { try SMTPConfiguration(environment: Environment(["SMTP_URL": "file://relative"])) }
    }
}
