/// Every text a tenant may set in `notification_templates`, the placeholders its sender fills and
/// its German default: the one catalog for the admin store (what is savable, what the list
/// shows) and the senders (what they render when a tenant has no text of its own).
///
/// - `email.<event>`: the e-mails to caseworkers (notification service). They carry no personal
///   data of the applicant (DESIGN), so no placeholder offers any: only the reference, the
///   service's name, the link into the inbox and the tenant's name.
/// - `citizen.status.<status>`: the status messages to the applicant's postbox (inbox and
///   routing), with the reference, the service's name and, when completed, the outcome.
public enum TemplateCatalog {
    /// The locale of the default texts, and the one senders fall back to.
    public static let defaultLocale = "de"

    /// What the e-mail sender fills in (`NotificationValues`).
    public static let emailPlaceholders = ["reference", "service", "link", "tenant"]

    /// Every kind, e-mails first, then status messages in lifecycle order.
    public static let kinds: [TemplateKind] = emailKinds + citizenStatusKinds

    /// The kind named `name` (`email.new_application`), nil for names not in the catalog.
    public static func kind(_ name: String) -> TemplateKind? { byName[name] }

    /// `email.<event>`; nil for events without an e-mail.
    public static func email(_ event: String) -> TemplateKind? { byName["email." + event] }

    /// `citizen.status.<status>` (a status's raw value, e.g. `in_progress`); nil for statuses
    /// the applicant gets no message for.
    public static func citizenStatus(_ status: String) -> TemplateKind? { byName["citizen.status." + status] }

    private static let byName: [String: TemplateKind] = Dictionary(uniqueKeysWithValues: kinds.map { ($0.name, $0) })

    private static let emailFooter = "Diese Nachricht wurde automatisch erstellt ({{tenant}}). Bitte antworten Sie nicht auf diese E-Mail."

    private static let emailKinds: [TemplateKind] = [
        TemplateKind(
            name: "email.new_application", placeholders: emailPlaceholders,
            purpose: "E-mail to each caseworker of the area a new application was routed or forwarded to",
            defaultSubject: "Neuer Antrag {{reference}} in Ihrem Postkorb: {{service}}",
            defaultBody: """
                Guten Tag,

                in Ihrem Postkorb ist ein neuer Antrag eingegangen.

                Online-Dienst: {{service}}
                Vorgangsnummer: {{reference}}

                Zum Vorgang: {{link}}

                \(emailFooter)
                """),
        TemplateKind(
            name: "email.applicant_replied", placeholders: emailPlaceholders,
            purpose: "E-mail to the caseworker holding the case when the applicant replied",
            defaultSubject: "Antwort zum Vorgang {{reference}}: {{service}}",
            defaultBody: """
                Guten Tag,

                die antragstellende Person hat zum Vorgang {{reference}} geantwortet.

                Online-Dienst: {{service}}
                Vorgangsnummer: {{reference}}

                Zum Vorgang: {{link}}

                \(emailFooter)
                """),
        TemplateKind(
            name: "email.delivery_failed", placeholders: emailPlaceholders,
            purpose: "E-mail to the caseworker holding the case when a message could not be delivered to the applicant's postbox",
            defaultSubject: "Zustellung fehlgeschlagen zum Vorgang {{reference}}: {{service}}",
            defaultBody: """
                Guten Tag,

                eine Nachricht zum Vorgang {{reference}} konnte nicht in das Postfach der antragstellenden Person zugestellt werden. Bitte prüfen Sie den Vorgang.

                Online-Dienst: {{service}}
                Vorgangsnummer: {{reference}}

                Zum Vorgang: {{link}}

                \(emailFooter)
                """),
    ]

    private static let citizenStatusKinds: [TemplateKind] = {
        func status(_ status: String, _ purpose: String, outcome: Bool = false, _ subject: String, _ body: String) -> TemplateKind {
            TemplateKind(name: "citizen.status." + status, placeholders: ["reference", "service"] + (outcome ? ["outcome"] : []),
                         purpose: purpose, defaultSubject: subject, defaultBody: body)
        }
        let received = "Ihr Antrag ({{service}}) mit der Vorgangsnummer {{reference}} ist eingegangen und wartet auf Bearbeitung."
        return [
            status("received", "Status message to the applicant: the application was received",
                   "Ihr Antrag {{reference}} ist eingegangen", received),
            status("assigned", "Status message to the applicant: the application waits for a caseworker again (released or forwarded)",
                   "Ihr Antrag {{reference}} ist eingegangen", received),
            status("in_progress", "Status message to the applicant: a caseworker works on the application",
                   "Ihr Antrag {{reference}} wird bearbeitet",
                   "Ihr Antrag ({{service}}) mit der Vorgangsnummer {{reference}} wird jetzt bearbeitet."),
            status("awaiting_applicant", "Status message to the applicant: the caseworker needs something from them",
                   "Rückfrage zu Ihrem Antrag {{reference}}",
                   "Zu Ihrem Antrag ({{service}}) mit der Vorgangsnummer {{reference}} brauchen wir Angaben von Ihnen. Bitte beachten Sie unsere Nachricht."),
            status("completed", "Status message to the applicant: the application is completed (outcome: bewilligt, abgelehnt or erledigt)",
                   outcome: true, "Ihr Antrag {{reference}} ist abgeschlossen",
                   "Die Bearbeitung Ihres Antrags ({{service}}) mit der Vorgangsnummer {{reference}} ist abgeschlossen: {{outcome}}."),
            status("withdrawn", "Status message to the applicant: the application was withdrawn",
                   "Antrag {{reference}} zurückgezogen",
                   "Ihr Antrag mit der Vorgangsnummer {{reference}} wurde zurückgezogen. Er wird nicht weiter bearbeitet."),
        ]
    }()

    /// A locale as `tenants.locale` and `notification_templates.locale` hold it: `de`, `de-DE`.
    public static func isLocale(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        func lower(_ b: UInt8) -> Bool { b >= 97 && b <= 122 }
        func upper(_ b: UInt8) -> Bool { b >= 65 && b <= 90 }
        switch bytes.count {
        case 2: return lower(bytes[0]) && lower(bytes[1])
        case 5: return lower(bytes[0]) && lower(bytes[1]) && bytes[2] == 45 && upper(bytes[3]) && upper(bytes[4])
        default: return false
        }
    }
}

/// Named limits of a tenant's text (the schema's CHECKs).
public enum TemplateLimits {
    /// Characters of a subject (one line).
    public static let maxSubjectLength = 255
    /// Characters of a body.
    public static let maxBodyLength = 20_000
}

/// One kind of text: its name, the placeholders its sender fills, and the German default.
public struct TemplateKind: Sendable, Equatable, Hashable {
    /// `email.new_application`, `citizen.status.in_progress`: the `kind` column.
    public let name: String
    /// What the sender fills in, in the order the admin API lists them.
    public let placeholders: [String]
    /// What the text is for (English, for the admin API and the CLI).
    public let purpose: String
    public let defaultSubject: String
    public let defaultBody: String

    /// Whether this is an e-mail to caseworkers (`email.…`).
    public var isEmail: Bool { name.hasPrefix("email.") }

    /// Every reason `subject` and `body` cannot be saved for this kind (empty when they can): the
    /// lengths of the schema, one line for the subject, the syntax the senders parse, and only
    /// this kind's placeholders, written `{{name}}` (the citizen sender fills only that form).
    public func problems(subject: String, body: String) -> [TemplateProblem] {
        var problems: [TemplateProblem] = []
        for (field, text, limit) in [("subject", subject, TemplateLimits.maxSubjectLength), ("body", body, TemplateLimits.maxBodyLength)] {
            if text.count > limit {
                problems.append(TemplateProblem(field: field, code: "too-long", message: "must be at most \(limit) characters"))
            }
            if field == "subject", text.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7f }) {
                problems.append(TemplateProblem(field: field, code: "invalid", message: "must be one line without control characters"))
            }
            let pieces: [TemplateSyntax.Piece]
            do { pieces = try TemplateSyntax.parse(text) } catch {
                problems.append(TemplateProblem(field: field, code: text.contains(where: { !$0.isWhitespace }) ? "invalid-template" : "invalid",
                                                message: error.message))
                continue
            }
            var reported: Set<String> = []
            for case .slot(let name, let tight) in pieces where reported.insert(name).inserted {
                if !placeholders.contains(name) {
                    let offered = placeholders.map { "{{\($0)}}" }.joined(separator: ", ")
                    let why = isEmail ? "; e-mails carry no personal data of the applicant" : ""
                    problems.append(TemplateProblem(field: field, code: "unknown-placeholder",
                                                    message: "{{\(name.prefix(40))}} is not a placeholder of \(self.name) (use \(offered))\(why)"))
                } else if !tight {
                    problems.append(TemplateProblem(field: field, code: "invalid-template",
                                                    message: "write placeholders without spaces inside the braces: {{\(name)}}"))
                }
            }
        }
        return problems
    }
}

/// A problem with the subject or body of a text, for the admin API's field-level 422.
public struct TemplateProblem: Sendable, Equatable, CustomStringConvertible {
    /// `subject` or `body`.
    public var field: String
    /// Stable: `invalid`, `too-long`, `invalid-template`, `unknown-placeholder`.
    public var code: String
    public var message: String

    public init(field: String, code: String, message: String) {
        self.field = field
        self.code = code
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
