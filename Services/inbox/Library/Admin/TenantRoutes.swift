import Administration
import HTTPServer

/// `/v1/admin/tenant`: the tenant's policy, fallback area, name and locale.
enum TenantRoutes {
    static let all: [AdminRoute] = [
        AdminRoute(.get, "/v1/admin/tenant") { r in
            try r.answer(try await r.store.tenant(id: r.tenant))
        },
        AdminRoute(.patch, "/v1/admin/tenant") { r in
            try r.answer(try await r.store.updateTenant(r.tenant, try r.body(TenantPatch.self)))
        },
    ]
}
