import NotificationTemplates

/// A subject and body with `{{placeholder}}` slots.
public struct MailTemplate: Sendable, Equatable {
    public var subject: String
    public var body: String

    public init(subject: String, body: String) {
        self.subject = subject
        self.body = body
    }

    /// The placeholders a notification template may use (``TemplateCatalog/emailPlaceholders``).
    /// None of them carries personal data of the applicant: there is no placeholder for the
    /// applicant's name, address or e-mail.
    public static let placeholders: Set<String> = Set(TemplateCatalog.emailPlaceholders)

    /// Fills `{{name}}` slots (spaces inside the braces allowed) with `values`. Throws when the
    /// text is empty or blank, a brace pair is unbalanced, or a placeholder is not in `values`.
    public static func render(_ text: String, values: [String: String]) throws(MailError) -> String {
        do {
            return try TemplateSyntax.render(text, values: values)
        } catch {
            throw MailError(code: .invalidTemplate, message: error.message)
        }
    }
}

/// The three e-mails the notification service sends to caseworkers.
public enum NotificationKind: String, Sendable, CaseIterable, Codable {
    case newApplication = "new_application"
    case applicantReplied = "applicant_replied"
    case deliveryFailed = "delivery_failed"

    /// This e-mail's entry in the catalog of tenant texts (`email.<kind>`).
    public var templateKind: TemplateKind {
        // Every case has its entry; NotificationTemplates' tests hold the catalog to this enum.
        TemplateCatalog.email(rawValue)!
    }

    /// The built-in German text (from ``TemplateCatalog``), used when a tenant has no template of
    /// its own or its template is broken.
    public var defaultTemplate: MailTemplate {
        MailTemplate(subject: templateKind.defaultSubject, body: templateKind.defaultBody)
    }
}

/// What a notification may say: deliberately no field for the applicant.
public struct NotificationValues: Sendable, Equatable {
    /// The application's reference (Vorgangsnummer), e.g. `ERK-2026-000123`.
    public var reference: String
    /// The online service's name, e.g. `Anwohnerparkausweis`.
    public var service: String
    /// Link into the caseworker's inbox.
    public var link: String
    /// The tenant's name, e.g. `Stadt Erkrath`.
    public var tenant: String

    public init(reference: String, service: String, link: String, tenant: String) {
        self.reference = reference
        self.service = service
        self.link = link
        self.tenant = tenant
    }

    /// Values with line breaks and other control characters turned into spaces, so a value can
    /// never add a header line through the subject.
    var dictionary: [String: String] {
        func clean(_ text: String) -> String {
            String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : $0 }))
        }
        return ["reference": clean(reference), "service": clean(service), "link": clean(link), "tenant": clean(tenant)]
    }
}

/// A rendered subject and body, and whether the built-in default had to stand in.
public struct RenderedNotification: Sendable, Equatable {
    public var subject: String
    public var body: String
    /// Nil when the tenant's template was used (or there was none); otherwise why it was not.
    public var fallbackReason: String?

    public init(subject: String, body: String, fallbackReason: String? = nil) {
        self.subject = subject
        self.body = body
        self.fallbackReason = fallbackReason
    }
}

extension NotificationKind {
    /// Renders the tenant's template, or the built-in German one when there is none or the
    /// tenant's is broken (empty, unbalanced braces, unknown placeholder, a control character in
    /// the subject). Subject and body fall back together.
    public func render(_ values: NotificationValues, tenantTemplate: MailTemplate? = nil) -> RenderedNotification {
        let dictionary = values.dictionary
        var reason: String?
        if let tenantTemplate {
            do {
                let subject = try MailTemplate.render(tenantTemplate.subject, values: dictionary)
                let body = try MailTemplate.render(tenantTemplate.body, values: dictionary)
                try MIMEEncoding.checkHeaderValue(subject, field: "Subject")
                return RenderedNotification(subject: subject, body: body, fallbackReason: nil)
            } catch {
                reason = error.message
            }
        }
        let template = defaultTemplate
        // The built-in templates only use known placeholders; rendering cannot fail.
        let subject = (try? MailTemplate.render(template.subject, values: dictionary)) ?? template.subject
        let body = (try? MailTemplate.render(template.body, values: dictionary)) ?? template.body
        return RenderedNotification(subject: subject, body: body, fallbackReason: reason)
    }
}
