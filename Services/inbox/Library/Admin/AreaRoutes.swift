import Administration
import FoundationEssentials
import HTTPServer

/// `/v1/admin/areas`: responsibility areas and their members.
enum AreaRoutes {
    struct MembersBody: Decodable {
        var caseworkerIDs: [UUID]
        enum CodingKeys: String, CodingKey { case caseworkerIDs = "caseworker_ids" }
    }

    static let all: [AdminRoute] = [
        AdminRoute(.get, "/v1/admin/areas") { r in
            try r.list(try await r.store.listAreas(tenant: r.tenant))
        },
        AdminRoute(.post, "/v1/admin/areas") { r in
            try r.answer(try await r.store.createArea(tenant: r.tenant, try r.body(AreaDraft.self)), status: .created)
        },
        AdminRoute(.patch, "/v1/admin/areas/:id") { r in
            let id = try r.id("area")
            return try r.answer(try await r.store.updateArea(tenant: r.tenant, id: id, try r.body(AreaDraft.self)))
        },
        AdminRoute(.put, "/v1/admin/areas/:id/members") { r in
            let id = try r.id("area")
            return try r.answer(try await r.store.replaceMembers(tenant: r.tenant, area: id, caseworkers: try r.body(MembersBody.self).caseworkerIDs))
        },
    ]
}
