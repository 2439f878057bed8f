import Administration
import HTTPServer

/// `/v1/admin/services`: the tenant's online services and each one's routing rules.
enum ServiceRoutes {
    struct RulesBody: Decodable {
        var rules: [ServiceRuleDraft]
    }

    static let all: [AdminRoute] = [
        AdminRoute(.get, "/v1/admin/services") { r in
            try r.list(try await r.store.listServices(tenant: r.tenant))
        },
        AdminRoute(.post, "/v1/admin/services") { r in
            try r.answer(try await r.store.createService(tenant: r.tenant, try r.body(ServiceDraft.self)), status: .created)
        },
        AdminRoute(.patch, "/v1/admin/services/:id") { r in
            let id = try r.id("service")
            return try r.answer(try await r.store.updateService(tenant: r.tenant, id: id, try r.body(ServiceDraft.self)))
        },
        AdminRoute(.get, "/v1/admin/services/:id/rules") { r in
            try r.answer(try await r.store.rules(tenant: r.tenant, service: try r.id("service")))
        },
        AdminRoute(.put, "/v1/admin/services/:id/rules") { r in
            let id = try r.id("service")
            return try r.answer(try await r.store.replaceRules(tenant: r.tenant, service: id, try r.body(RulesBody.self).rules))
        },
    ]
}
