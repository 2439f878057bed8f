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

    /// An e-mail to caseworkers: a greeting, what happened, the service, the reference and the link.
    private static func email(_ event: String, _ purpose: String, subject: String, _ what: String) -> TemplateKind {
        TemplateKind(
            name: "email." + event, placeholders: emailPlaceholders, purpose: purpose, defaultSubject: subject,
            defaultBody: """
                Guten Tag,

                \(what)

                Online-Dienst: {{service}}
                Vorgangsnummer: {{reference}}

                Zum Vorgang: {{link}}

                Diese Nachricht wurde automatisch erstellt ({{tenant}}). Bitte antworten Sie nicht auf diese E-Mail.
                """)
    }

    private static let emailKinds: [TemplateKind] = [
        email("new_application", "E-mail to each caseworker of the area a new application was routed or forwarded to",
              subject: "Neuer Antrag {{reference}} in Ihrem Postkorb: {{service}}",
              "in Ihrem Postkorb ist ein neuer Antrag eingegangen."),
        email("applicant_replied", "E-mail to the caseworker holding the case when the applicant replied",
              subject: "Antwort zum Vorgang {{reference}}: {{service}}",
              "die antragstellende Person hat zum Vorgang {{reference}} geantwortet."),
        email("delivery_failed", "E-mail to the caseworker holding the case when a message could not be delivered to the applicant's postbox",
              subject: "Zustellung fehlgeschlagen zum Vorgang {{reference}}: {{service}}",
              "eine Nachricht zum Vorgang {{reference}} konnte nicht in das Postfach der antragstellenden Person zugestellt werden. Bitte prüfen Sie den Vorgang."),
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
}
