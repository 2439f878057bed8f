import Administration
import HTTPServer

/// `/v1/admin/intake-clients`: the keys posting systems authenticate with.
enum IntakeClientRoutes {
    static let all: [AdminRoute] = [
        AdminRoute(.get, "/v1/admin/intake-clients") { r in
            try r.list(try await r.store.intakeClients(tenant: r.tenant))
        },
        AdminRoute(.post, "/v1/admin/intake-clients") { r in
            try r.answer(try await r.store.createIntakeClient(tenant: r.tenant, try r.body(IntakeClientDraft.self)), status: .created)
        },
        AdminRoute(.post, "/v1/admin/intake-clients/:id/revoke") { r in
            try r.answer(try await r.store.revokeIntakeClient(tenant: r.tenant, id: try r.id("intake-client")))
        },
    ]
}
