import Domain
import Postgres

/// The applicant's status messages: German defaults, which a tenant overrides with a
/// `citizen.status.<status>` template (placeholders `{{reference}}`, `{{service}}`, `{{outcome}}`).
/// Every status message — routing's receipt and intake's withdrawal included — is written by
/// ``TransitionStatement`` with the tenant's template when it has one.
public enum StatusMessages {
    public static func defaultText(for status: ApplicationStatus) -> (subject: String, body: String) {
        switch status {
        case .received, .assigned, .unroutable:
            ("Ihr Antrag {{reference}} ist eingegangen",
             "Ihr Antrag ({{service}}) mit der Vorgangsnummer {{reference}} ist eingegangen und wartet auf Bearbeitung.")
        case .inProgress:
            ("Ihr Antrag {{reference}} wird bearbeitet",
             "Ihr Antrag ({{service}}) mit der Vorgangsnummer {{reference}} wird jetzt bearbeitet.")
        case .awaitingApplicant:
            ("Rückfrage zu Ihrem Antrag {{reference}}",
             "Zu Ihrem Antrag ({{service}}) mit der Vorgangsnummer {{reference}} brauchen wir Angaben von Ihnen. Bitte beachten Sie unsere Nachricht.")
        case .completed:
            ("Ihr Antrag {{reference}} ist abgeschlossen",
             "Die Bearbeitung Ihres Antrags ({{service}}) mit der Vorgangsnummer {{reference}} ist abgeschlossen: {{outcome}}.")
        case .withdrawn:
            ("Antrag {{reference}} zurückgezogen",
             "Ihr Antrag mit der Vorgangsnummer {{reference}} wurde zurückgezogen. Er wird nicht weiter bearbeitet.")
        }
    }

    /// The template kind of a status message.
    public static func templateKind(for status: ApplicationStatus) -> String { "citizen.status." + status.rawValue }

    public static func outcomeText(_ outcome: ApplicationOutcome?) -> String {
        switch outcome {
        case .approved: "bewilligt"
        case .rejected: "abgelehnt"
        case .done: "erledigt"
        case nil: ""
        }
    }

    /// The filled subject and body, as columns `subject` and `body`, for the application in the
    /// statement's CTE `cur` (columns `tenant_id`, `locale`, `reference`, `service_name`): the
    /// tenant's template in its locale, else in German, else the default.
    static func filledText(for status: ApplicationStatus, outcome: ApplicationOutcome?) -> SQLQuery {
        let text = defaultText(for: status)
        let kind = templateKind(for: status)
        let outcome = outcomeText(outcome)
        return """
            SELECT left(replace(replace(replace(coalesce(own.subject, de.subject, \(text.subject)),
                        '{{reference}}', cur.reference), '{{service}}', cur.service_name), '{{outcome}}', \(outcome)), 255) AS subject,
                   replace(replace(replace(coalesce(own.body, de.body, \(text.body)),
                        '{{reference}}', cur.reference), '{{service}}', cur.service_name), '{{outcome}}', \(outcome)) AS body
            FROM (SELECT 1) AS one
            LEFT JOIN notification_templates own ON own.tenant_id = cur.tenant_id AND own.kind = \(kind) AND own.locale = cur.locale
            LEFT JOIN notification_templates de ON de.tenant_id = cur.tenant_id AND de.kind = \(kind) AND de.locale = 'de'
            """
    }
}
