import FoundationEssentials
import JobQueue
import Lease
import Logging
import Mail
import Metrics
import Postgres
import QueueContracts

/// Sends one `notify-email` job (``NotifyEmailJob``) as an e-mail to a caseworker, or — a job
/// that names none — to whoever is responsible now: the holder, else the area's active members who
/// want e-mail, else the tenant's active admins (all in one e-mail).
///
/// A named recipient is checked when sending, against the current state: a caseworker who was
/// deactivated, turned e-mail off, or is no longer in the application's area (or, for replies
/// and failed deliveries, no longer holds the case) gets nothing; that is logged and counted,
/// and the job is done. The e-mail carries only the service's name, the reference and a link:
/// the applicant's data is never read. The `Message-ID` comes from the job, so a resend keeps it.
///
/// Failures: SMTP 5xx → dead letter now with the server's reply; connection errors and 4xx →
/// retry with the consumer's backoff; a malformed job → dead letter. Past the job's deadline
/// (``Job/deadline``) the message is withheld before the end of DATA and the job left to the
/// consumer that holds it now.
public struct NotificationHandler: JobHandler {
    let pool: PostgresPool
    let transport: any MailTransport
    let sender: MailAddress
    let inboxURL: String
    let logger: Logger
    let sent: Counter
    let skipped: Counter
    let failed: Counter
    let templateFallbacks: Counter

    public init(pool: PostgresPool, transport: any MailTransport, sender: MailAddress, inboxURL: String, logger: Logger, metrics: MetricsRegistry) {
        self.pool = pool
        self.transport = transport
        self.sender = sender
        var base = inboxURL
        while base.hasSuffix("/") { base.removeLast() }
        self.inboxURL = base
        self.logger = logger
        sent = metrics.counter("amtsweg_notification_emails_sent_total", help: "E-mails the SMTP server accepted, by kind")
        skipped = metrics.counter("amtsweg_notification_emails_skipped_total", help: "Notifications not sent because the recipient no longer qualifies, by reason")
        failed = metrics.counter("amtsweg_notification_emails_failed_total", help: "Send attempts that failed, by kind of failure")
        templateFallbacks = metrics.counter("amtsweg_notification_template_fallbacks_total", help: "Broken tenant templates replaced by the built-in default")
    }

    public func handle(_ job: Job) async throws {
        guard let tenantID = job.tenantID else { throw JobFailure.permanent(reason: "notify-email job has no tenant") }
        let payload = try job.payload(as: NotifyEmailJob.self)
        let kind = payload.kind.template
        let jobLogger = logger.with([
            "job_id": String(job.id), "kind": kind.rawValue, "tenant_id": tenantID.uuidString.lowercased(),
            "application_id": payload.applicationID.uuidString.lowercased(),
            "caseworker_id": payload.caseworkerID?.uuidString.lowercased() ?? "responsible",
        ])
        let context: NotificationContext
        switch try await NotificationContext.load(pool: pool, tenantID: tenantID, payload: payload, kind: kind) {
        case .skip(let reason):
            skipped.increment(["reason": reason.rawValue])
            jobLogger.info("notification not sent", ["reason": reason.rawValue])
            return
        case .send(let loaded):
            context = loaded
        }
        let values = NotificationValues(
            reference: context.reference, service: context.serviceName,
            link: "\(inboxURL)/applications/\(payload.applicationID.uuidString.lowercased())", tenant: context.tenantName)
        let rendered = kind.render(values, tenantTemplate: context.template)
        if let reason = rendered.fallbackReason {
            templateFallbacks.increment(["kind": kind.rawValue])
            jobLogger.warning("tenant template is broken; sent the built-in default", ["problem": reason])
        }
        let message: MailMessage
        do {
            let from = try MailAddress(sender.address, displayName: context.tenantName)
            var to: [MailAddress] = []
            for recipient in context.recipients { to.append(try MailAddress(recipient)) }
            message = try MailMessage(
                from: from, to: to, subject: rendered.subject, body: rendered.body,
                idempotencyKey: job.idempotencyKey)
        } catch {
            throw JobFailure.permanent(reason: "cannot build the e-mail: \(error.message)")
        }
        do {
            try await transport.send(message, before: job.deadline)
        } catch where error.kind == .leaseLost {
            jobLogger.info("e-mail withheld: the job's lease was lost before the end of DATA", ["attempt": String(job.attempt)])
            throw LeaseLostError()
        } catch {
            failed.increment(["kind": error.kind.rawValue])
            jobLogger.warning("e-mail not delivered", ["failure": error.kind.rawValue, "reason": error.reason, "attempt": String(job.attempt)])
            if error.isPermanent { throw JobFailure.permanent(reason: error.reason) }
            throw error
        }
        sent.increment(["kind": kind.rawValue])
        jobLogger.info("e-mail sent", ["message_id": message.messageID])
    }
}

/// What the database says about one notification right now.
struct NotificationContext {
    enum SkipReason: String {
        case applicationOrCaseworkerGone = "not_found"
        case caseworkerInactive = "caseworker_inactive"
        case emailTurnedOff = "email_turned_off"
        case notInArea = "not_in_area"
        case notHoldingCase = "not_holding_case"
        /// Nobody named, and nobody holds it, is in its area or administers the tenant with e-mail on.
        case nobodyResponsible = "nobody_responsible"
    }

    enum Outcome {
        case send(NotificationContext)
        case skip(SkipReason)
    }

    var reference: String
    var serviceName: String
    var tenantName: String
    var recipients: [String]
    var template: MailTemplate?

    static func load(pool: PostgresPool, tenantID: UUID, payload: NotifyEmailJob, kind: NotificationKind) async throws -> Outcome {
        guard let caseworker = payload.caseworkerID else {
            return try await loadResponsible(pool: pool, tenantID: tenantID, payload: payload, kind: kind)
        }
        let templateKind = "email." + kind.rawValue
        let rows = try await pool.query("""
            SELECT a.reference, s.name AS service_name, t.name AS tenant_name, c.email, c.active, c.email_notifications,
                   coalesce(a.claimed_by = c.id, false) AS holds_case,
                   EXISTS (SELECT 1 FROM area_members m
                           WHERE m.tenant_id = a.tenant_id AND m.area_id = a.area_id AND m.caseworker_id = c.id) AS in_area,
                   coalesce(own.subject, de.subject) AS template_subject, coalesce(own.body, de.body) AS template_body
            FROM applications a
            JOIN tenants t ON t.id = a.tenant_id
            JOIN services s ON s.tenant_id = a.tenant_id AND s.id = a.service_id
            JOIN caseworkers c ON c.tenant_id = a.tenant_id AND c.id = \(caseworker)
            LEFT JOIN notification_templates own ON own.tenant_id = a.tenant_id AND own.kind = \(templateKind) AND own.locale = t.locale
            LEFT JOIN notification_templates de ON de.tenant_id = a.tenant_id AND de.kind = \(templateKind) AND de.locale = 'de'
            WHERE a.tenant_id = \(tenantID) AND a.id = \(payload.applicationID)
            """)
        guard let row = rows.first else { return .skip(.applicationOrCaseworkerGone) }
        guard try row.decode("active", as: Bool.self) else { return .skip(.caseworkerInactive) }
        guard try row.decode("email_notifications", as: Bool.self) else { return .skip(.emailTurnedOff) }
        let inArea = try row.decode("in_area", as: Bool.self)
        let holdsCase = try row.decode("holds_case", as: Bool.self)
        switch kind {
        case .newApplication:
            guard inArea else { return .skip(.notInArea) }
        case .applicantReplied, .deliveryFailed:
            guard holdsCase || inArea else { return .skip(.notHoldingCase) }
        }
        var template: MailTemplate?
        if let subject = try row.decode("template_subject", as: String?.self), let body = try row.decode("template_body", as: String?.self) {
            template = MailTemplate(subject: subject, body: body)
        }
        return .send(NotificationContext(
            reference: try row.decode("reference"), serviceName: try row.decode("service_name"),
            tenantName: try row.decode("tenant_name"), recipients: [try row.decode("email")], template: template))
    }

    /// Nobody named: the holder, else the area's active members who want e-mail, else the
    /// tenant's active admins who want e-mail — resolved now, so a change of membership since the
    /// job was queued counts.
    static func loadResponsible(pool: PostgresPool, tenantID: UUID, payload: NotifyEmailJob, kind: NotificationKind) async throws -> Outcome {
        let templateKind = "email." + kind.rawValue
        let rows = try await pool.query("""
            WITH app AS (
                SELECT a.tenant_id, a.reference, a.area_id,
                       CASE WHEN a.status IN ('in_progress', 'awaiting_applicant') THEN a.claimed_by END AS holder,
                       s.name AS service_name, t.name AS tenant_name, t.locale
                FROM applications a
                JOIN tenants t ON t.id = a.tenant_id
                JOIN services s ON s.tenant_id = a.tenant_id AND s.id = a.service_id
                WHERE a.tenant_id = \(tenantID) AND a.id = \(payload.applicationID)
            ), holder AS (
                SELECT c.email FROM app JOIN caseworkers c ON c.tenant_id = app.tenant_id AND c.id = app.holder
                WHERE c.active AND c.email_notifications
            ), members AS (
                SELECT c.email FROM app
                JOIN area_members m ON m.tenant_id = app.tenant_id AND m.area_id = app.area_id
                JOIN caseworkers c ON c.tenant_id = m.tenant_id AND c.id = m.caseworker_id
                WHERE c.active AND c.email_notifications
            ), admins AS (
                SELECT c.email FROM app JOIN caseworkers c ON c.tenant_id = app.tenant_id
                WHERE 'admin' = ANY(c.roles) AND c.active AND c.email_notifications
            )
            SELECT app.reference, app.service_name, app.tenant_name,
                   coalesce((SELECT array_agg(email ORDER BY email) FROM holder),
                            (SELECT array_agg(email ORDER BY email) FROM members),
                            (SELECT array_agg(email ORDER BY email) FROM admins), '{}'::text[]) AS recipients,
                   coalesce(own.subject, de.subject) AS template_subject, coalesce(own.body, de.body) AS template_body
            FROM app
            LEFT JOIN notification_templates own ON own.tenant_id = app.tenant_id AND own.kind = \(templateKind) AND own.locale = app.locale
            LEFT JOIN notification_templates de ON de.tenant_id = app.tenant_id AND de.kind = \(templateKind) AND de.locale = 'de'
            """)
        guard let row = rows.first else { return .skip(.applicationOrCaseworkerGone) }
        let recipients = try row.decode("recipients", as: [String].self)
        guard !recipients.isEmpty else { return .skip(.nobodyResponsible) }
        var template: MailTemplate?
        if let subject = try row.decode("template_subject", as: String?.self), let body = try row.decode("template_body", as: String?.self) {
            template = MailTemplate(subject: subject, body: body)
        }
        return .send(NotificationContext(
            reference: try row.decode("reference"), serviceName: try row.decode("service_name"),
            tenantName: try row.decode("tenant_name"), recipients: recipients, template: template))
    }
}

extension NotifyEmailJob.Kind {
    /// The e-mail each kind of job sends.
    var template: NotificationKind {
        switch self {
        case .newApplication: .newApplication
        case .applicantReplied: .applicantReplied
        case .deliveryFailed: .deliveryFailed
        }
    }
}
