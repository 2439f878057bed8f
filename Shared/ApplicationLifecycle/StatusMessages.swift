import Domain
import NotificationTemplates
import Postgres

/// The applicant's status messages. The texts are the tenant's `citizen.status.<status>` template
/// (placeholders `{{reference}}`, `{{service}}`, `{{outcome}}`), else the German default of the
/// catalog (`Shared/NotificationTemplates`). Every status message — routing's receipt and intake's
/// withdrawal included — is written by ``TransitionStatement`` this way.
public enum StatusMessages {
    /// The kind of text for a step from `source` to `target`: the first step out of `received`
    /// into an area, and every step to `unroutable`, is the receipt (`citizen.status.received`);
    /// otherwise the target's own.
    public static func textStatus(from source: ApplicationStatus, to target: ApplicationStatus) -> ApplicationStatus {
        if target == .unroutable || (source == .received && target == .assigned) { return .received }
        return target
    }

    /// The catalog's kind for `status` (every status but `unroutable` has one).
    static func kind(_ status: ApplicationStatus) -> TemplateKind {
        guard let kind = TemplateCatalog.citizenStatus(status.rawValue) else {
            preconditionFailure("the template catalog has no citizen.status.\(status.rawValue)")
        }
        return kind
    }

    public static func outcomeText(_ outcome: ApplicationOutcome?) -> String {
        switch outcome {
        case .approved: "bewilligt"
        case .rejected: "abgelehnt"
        case .done: "erledigt"
        case nil: ""
        }
    }

    /// The filled subject and body, as columns `subject` and `body`, for the application in the
    /// statement's CTE `cur` (columns `status`, `tenant_id`, `locale`, `reference`, `service_name`):
    /// the tenant's template in its locale, else in German, else the default.
    static func filledText(for target: ApplicationStatus, outcome: ApplicationOutcome?) -> SQLQuery {
        // Every source but `received` chooses the same text, so `.assigned` stands for them all.
        let first = kind(textStatus(from: .received, to: target)), later = kind(textStatus(from: .assigned, to: target))
        let outcome = outcomeText(outcome)
        return """
            SELECT left(replace(replace(replace(coalesce(own.subject, de.subject, chosen.subject),
                        '{{reference}}', cur.reference), '{{service}}', cur.service_name), '{{outcome}}', \(outcome)), 255) AS subject,
                   replace(replace(replace(coalesce(own.body, de.body, chosen.body),
                        '{{reference}}', cur.reference), '{{service}}', cur.service_name), '{{outcome}}', \(outcome)) AS body
            FROM (SELECT CASE WHEN cur.status = 'received' THEN \(first.name) ELSE \(later.name) END AS kind,
                         CASE WHEN cur.status = 'received' THEN \(first.defaultSubject) ELSE \(later.defaultSubject) END AS subject,
                         CASE WHEN cur.status = 'received' THEN \(first.defaultBody) ELSE \(later.defaultBody) END AS body) AS chosen
            LEFT JOIN notification_templates own ON own.tenant_id = cur.tenant_id AND own.kind = chosen.kind AND own.locale = cur.locale
            LEFT JOIN notification_templates de ON de.tenant_id = cur.tenant_id AND de.kind = chosen.kind AND de.locale = 'de'
            """
    }
}
