import Administration
import FoundationEssentials
import HTTPServer

/// `/v1/admin/caseworkers` and `/v1/admin/tokens`: caseworkers, their roles and their tokens.
enum CaseworkerRoutes {
    struct TokenBody: Decodable {
        var label: String?
        var expiresAt: Date?
        enum CodingKeys: String, CodingKey {
            case label
            case expiresAt = "expires_at"
        }
    }

    static let all: [AdminRoute] = [
        AdminRoute(.get, "/v1/admin/caseworkers") { r in
            try r.list(try await r.store.listCaseworkers(tenant: r.tenant))
        },
        AdminRoute(.post, "/v1/admin/caseworkers") { r in
            try r.answer(try await r.store.createCaseworker(tenant: r.tenant, try r.body(CaseworkerDraft.self)), status: .created)
        },
        AdminRoute(.patch, "/v1/admin/caseworkers/:id") { r in
            let id = try r.id("caseworker")
            return try r.answer(try await r.store.updateCaseworker(tenant: r.tenant, id: id, try r.body(CaseworkerDraft.self)))
        },
        AdminRoute(.post, "/v1/admin/caseworkers/:id/tokens") { r in
            let id = try r.id("caseworker")
            let body = r.context.request.body.isEmpty ? TokenBody() : try r.body(TokenBody.self)
            return try r.answer(try await r.store.createCaseworkerToken(tenant: r.tenant, caseworker: id, label: body.label ?? "",
                                                                        expiresAt: body.expiresAt), status: .created)
        },
        AdminRoute(.get, "/v1/admin/tokens") { r in
            try r.list(try await r.store.tokens(tenant: r.tenant))
        },
        AdminRoute(.post, "/v1/admin/tokens/:id/revoke") { r in
            try r.answer(try await r.store.revokeToken(tenant: r.tenant, id: try r.id("token")))
        },
    ]
}
