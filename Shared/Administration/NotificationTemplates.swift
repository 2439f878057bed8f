import Domain
import FoundationEssentials
import NotificationTemplates
import Postgres

/// A tenant's text of one kind and locale as the senders will use it: the tenant's own (in this
/// locale, else in the default locale, as the senders fall back) or the built-in default.
public struct NotificationTemplate: Encodable, Sendable, Equatable {
    public var kind: String
    /// The locale of the text shown: the one asked for, or `de` (the fallback and the defaults').
    public var locale: String
    public var subject: String
    public var body: String
    /// true: the tenant has no text of its own; this is the built-in default.
    public var isDefault: Bool
    public var placeholders: [String]
    public var purpose: String
    public var updatedAt: Date?

    enum CodingKeys: String, CodingKey {
        case kind, locale, subject, body, placeholders, purpose
        case isDefault = "is_default"
        case updatedAt = "updated_at"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(locale, forKey: .locale)
        try c.encode(subject, forKey: .subject)
        try c.encode(body, forKey: .body)
        try c.encode(isDefault, forKey: .isDefault)
        try c.encode(placeholders, forKey: .placeholders)
        try c.encode(purpose, forKey: .purpose)
        try c.encodeOrNull(updatedAt, forKey: .updatedAt)
    }
}

extension AdminStore {
    /// The catalog's kind named `kind`, or why not (pure).
    static func templateKind(_ kind: String) throws(AdminError) -> TemplateKind {
        guard let entry = TemplateCatalog.kind(kind) else {
            let kinds = TemplateCatalog.kinds.map(\.name).joined(separator: ", ")
            throw AdminError(.notFound, code: "template-kind-not-found", message: "There is no text '\(kind.prefix(60))'; kinds are \(kinds).")
        }
        return entry
    }

    static func checkLocale(_ locale: String?) throws(AdminError) {
        if let locale, !TemplateCatalog.isLocale(locale) { throw AdminError.invalid("locale", "invalid", "must be a locale such as de or de-DE") }
    }

    /// Refuses what the senders could not render (pure; the CLI checks its arguments with it):
    /// an unknown kind, a bad locale, and per field every problem of ``templateProblems(_:subject:body:)``.
    @discardableResult
    public static func checkTemplate(kind: String, locale: String?, subject: String, body: String) throws(AdminError) -> TemplateKind {
        let entry = try templateKind(kind)
        try checkLocale(locale)
        try require(templateProblems(entry, subject: subject, body: body))
        return entry
    }

    /// Why `subject` and `body` cannot be saved for `kind` (empty when they can): the schema's
    /// lengths, one line for the subject, the senders' syntax (``TemplateSyntax``), and only the
    /// kind's placeholders, written `{{name}}` (the citizen sender fills only that form). An
    /// unknown placeholder is named: e-mails offer none with personal data of the applicant.
    public static func templateProblems(_ kind: TemplateKind, subject: String, body: String) -> [AdminError.FieldError] {
        var problems: [AdminError.FieldError] = []
        for (field, text, limit) in [("subject", subject, TemplateLimits.maxSubjectLength), ("body", body, TemplateLimits.maxBodyLength)] {
            if text.count > limit {
                problems.append(.init(field: field, code: "too-long", message: "must be at most \(limit) characters"))
            }
            if field == "subject", text.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7f }) {
                problems.append(.init(field: field, code: "invalid", message: "must be one line without control characters"))
            }
            let pieces: [TemplateSyntax.Piece]
            do { pieces = try TemplateSyntax.parse(text) } catch {
                problems.append(.init(field: field, code: text.contains(where: { !$0.isWhitespace }) ? "invalid-template" : "invalid", message: error.message))
                continue
            }
            var reported: Set<String> = []
            for case .slot(let name, let tight) in pieces where reported.insert(name).inserted {
                if !kind.placeholders.contains(name) {
                    let offered = kind.placeholders.map { "{{\($0)}}" }.joined(separator: ", ")
                    let why = kind.isEmail ? "; e-mails carry no personal data of the applicant" : ""
                    problems.append(.init(field: field, code: "unknown-placeholder",
                                          message: "{{\(name.prefix(40))}} is not a placeholder of \(kind.name) (use \(offered))\(why)"))
                } else if !tight {
                    problems.append(.init(field: field, code: "invalid-template", message: "write placeholders without spaces inside the braces: {{\(name)}}"))
                }
            }
        }
        return problems
    }

    /// Every kind of the catalog as the senders would use it in `locale` (nil: the tenant's).
    public func notificationTemplates(tenant: UUID, locale: String? = nil) async throws -> [NotificationTemplate] {
        try Self.checkLocale(locale)
        return try await templates(TemplateCatalog.kinds, tenant: tenant, locale: locale, in: nil)
    }

    public func notificationTemplate(tenant: UUID, kind: String, locale: String? = nil) async throws -> NotificationTemplate {
        let entry = try Self.templateKind(kind)
        try Self.checkLocale(locale)
        return try await templates([entry], tenant: tenant, locale: locale, in: nil)[0]
    }

    /// Sets the tenant's own text of `kind` in `locale` (nil: the tenant's locale).
    public func setNotificationTemplate(tenant: UUID, kind: String, locale: String? = nil, subject: String, body: String) async throws -> NotificationTemplate {
        let entry = try Self.checkTemplate(kind: kind, locale: locale, subject: subject, body: body)
        return try await change { tx in
            let rows = try await tx.query("""
                INSERT INTO notification_templates (tenant_id, kind, locale, subject, body)
                SELECT id, \(kind), coalesce(\(locale)::text, locale), \(subject), \(body) FROM tenants WHERE id = \(tenant)
                ON CONFLICT (tenant_id, kind, locale) DO UPDATE SET subject = EXCLUDED.subject, body = EXCLUDED.body, updated_at = now()
                RETURNING locale
                """)
            guard let row = rows.first else { throw AdminError.notFound("tenant") }
            let stored = try row.decode("locale", as: String.self)
            try await Audit.record(audit(tenant, "notification_template.set", "notification_template", kind, ["locale": stored]), in: tx)
            return try await templates([entry], tenant: tenant, locale: stored, in: tx)[0]
        }
    }

    /// Deletes the tenant's own text of `kind` in `locale` (nil: the tenant's locale), so the
    /// default (or the tenant's text in the default locale) applies again. Resetting a kind
    /// without a text of its own is no error.
    public func resetNotificationTemplate(tenant: UUID, kind: String, locale: String? = nil) async throws -> NotificationTemplate {
        let entry = try Self.templateKind(kind)
        try Self.checkLocale(locale)
        return try await change { tx in
            let rows = try await tx.query("""
                WITH tenant AS (SELECT id, coalesce(\(locale)::text, locale) AS locale FROM tenants WHERE id = \(tenant)),
                     deleted AS (DELETE FROM notification_templates t USING tenant
                                 WHERE t.tenant_id = tenant.id AND t.kind = \(kind) AND t.locale = tenant.locale RETURNING 1)
                SELECT tenant.locale, (SELECT count(*) FROM deleted)::integer AS deleted FROM tenant
                """)
            guard let row = rows.first else { throw AdminError.notFound("tenant") }
            let stored = try row.decode("locale", as: String.self)
            try await Audit.record(audit(tenant, "notification_template.reset", "notification_template", kind,
                                         ["locale": stored, "deleted": String(try row.decode("deleted", as: Int.self))]), in: tx)
            return try await templates([entry], tenant: tenant, locale: stored, in: tx)[0]
        }
    }

    /// `kinds` for `locale` (nil: the tenant's), falling back as the senders do: the tenant's
    /// text in that locale, else in the default locale, else the built-in default.
    private func templates(_ kinds: [TemplateKind], tenant: UUID, locale: String?, in tx: Transaction?) async throws -> [NotificationTemplate] {
        let query: SQLQuery = """
            WITH tenant AS (SELECT id, coalesce(\(locale)::text, locale) AS locale FROM tenants WHERE id = \(tenant))
            SELECT k.kind, own.locale, own.subject, own.body, own.updated_at
            FROM tenant CROSS JOIN unnest(\(kinds.map(\.name))::text[]) WITH ORDINALITY AS k(kind, n)
            LEFT JOIN LATERAL (
                SELECT t.locale, t.subject, t.body, t.updated_at FROM notification_templates t
                WHERE t.tenant_id = tenant.id AND t.kind = k.kind AND t.locale IN (tenant.locale, \(TemplateCatalog.defaultLocale))
                ORDER BY t.locale = tenant.locale DESC LIMIT 1
            ) own ON true
            ORDER BY k.n
            """
        let rows = if let tx { try await tx.query(query) } else { try await pool.query(query) }
        guard rows.count == kinds.count else { throw AdminError.notFound("tenant") }
        return try zip(kinds, rows).map { entry, row in
            let subject = try row.decode("subject", as: String?.self)
            return NotificationTemplate(
                kind: entry.name, locale: try row.decode("locale", as: String?.self) ?? TemplateCatalog.defaultLocale,
                subject: subject ?? entry.defaultSubject, body: try row.decode("body", as: String?.self) ?? entry.defaultBody,
                isDefault: subject == nil, placeholders: entry.placeholders, purpose: entry.purpose,
                updatedAt: try row.decode("updated_at", as: Date?.self))
        }
    }
}
