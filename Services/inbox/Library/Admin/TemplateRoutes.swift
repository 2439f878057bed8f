import Administration
import HTTPServer

/// `/v1/admin/notification-templates`: the tenant's e-mail and status-message texts. `?locale=`
/// picks the locale (the tenant's when left out).
enum TemplateRoutes {
    struct TemplateBody: Decodable {
        var subject: String
        var body: String
        var locale: String?
    }

    static let all: [AdminRoute] = [
        AdminRoute(.get, "/v1/admin/notification-templates") { r in
            try r.list(try await r.store.notificationTemplates(tenant: r.tenant, locale: r.query("locale")))
        },
        AdminRoute(.get, "/v1/admin/notification-templates/:kind") { r in
            try r.answer(try await r.store.notificationTemplate(tenant: r.tenant, kind: try r.context.parameter("kind"), locale: r.query("locale")))
        },
        AdminRoute(.put, "/v1/admin/notification-templates/:kind") { r in
            let kind = try r.context.parameter("kind")
            let body = try r.body(TemplateBody.self)
            return try r.answer(try await r.store.setNotificationTemplate(tenant: r.tenant, kind: kind, locale: body.locale ?? r.query("locale"),
                                                                          subject: body.subject, body: body.body))
        },
        AdminRoute(.delete, "/v1/admin/notification-templates/:kind") { r in
            try r.answer(try await r.store.resetNotificationTemplate(tenant: r.tenant, kind: try r.context.parameter("kind"), locale: r.query("locale")))
        },
    ]
}
