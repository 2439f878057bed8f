import Administration
import HTTPServer

/// `/v1/admin/unroutable`, `/v1/admin/dead-letters` (listing them is audited) and `/v1/admin/audit`.
enum OperationsRoutes {
    struct ReplayBody: Decodable {
        var ids: [Int64]
    }

    static let all: [AdminRoute] = [
        AdminRoute(.get, "/v1/admin/unroutable") { r in
            let limit = try API.queryInt(r.query("limit"), name: "limit", default: 100, range: 1...500)
            return try r.list(try await r.store.unroutableApplications(tenant: r.tenant, limit: limit))
        },
        AdminRoute(.get, "/v1/admin/dead-letters") { r in
            let limit = try API.queryInt(r.query("limit"), name: "limit", default: 100, range: 1...1000)
            let after = try API.queryInt(r.query("after_id"), name: "after_id", default: 0, range: 0...Int.max)
            return try r.list(try await r.store.deadLetters(tenant: r.tenant, afterID: Int64(after), limit: limit))
        },
        AdminRoute(.post, "/v1/admin/dead-letters/replay") { r in
            try r.answer(["replayed_job_ids": try await r.store.replayDeadLetters(tenant: r.tenant, ids: try r.body(ReplayBody.self).ids)])
        },
        AdminRoute(.get, "/v1/admin/audit") { r in
            let query = AuditLogQuery(
                applicationID: try API.queryUUID(r.query("application_id"), name: "application_id"),
                caseworkerID: try API.queryUUID(r.query("caseworker_id"), name: "caseworker_id"),
                from: try API.queryDate(r.query("from"), name: "from"), to: try API.queryDate(r.query("to"), name: "to"),
                afterID: Int64(try API.queryInt(r.query("after_id"), name: "after_id", default: 0, range: 0...Int.max)),
                limit: try API.queryInt(r.query("limit"), name: "limit", default: 100, range: 1...1000))
            return try r.answer(try await r.store.auditLog(tenant: r.tenant, query))
        },
    ]
}
