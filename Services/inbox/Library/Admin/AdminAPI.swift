import Administration
import Domain
import FoundationEssentials
import HTTPServer
import JobQueue
import Postgres

/// The tenant admin API (BIS-Admin), `/v1/admin/...`: role `admin`, own tenant only. The route
/// files (one per resource) only parse HTTP, call the ``AdminStore`` (which checks, writes and
/// audits) and answer; the store's ``AdminError``s become problems here: invalid input 422 with
/// one entry per field, unknown ids 404 (ids of another tenant too), conflicts 409.
struct AdminAPI: Sendable {
    let pool: PostgresPool
    let authentication: CaseworkerAuthentication
    let queue: JobQueue

    func register(on router: inout Router) {
        let authenticate = authentication.admin
        for route in TenantRoutes.all + ServiceRoutes.all + AreaRoutes.all + CaseworkerRoutes.all + IntakeClientRoutes.all
            + TemplateRoutes.all + OperationsRoutes.all {
            router.add(route.method, route.path, bodyLimit: route.method == .get ? nil : 256 * 1024, authenticate: authenticate) { [pool, queue] context in
                let principal = try context.principal(as: Principal.self)
                let store = AdminStore(pool: pool, actor: .caseworker(principal.id, requestID: context.requestID), queue: queue)
                do {
                    return try await route.handler(AdminRequest(context: context, tenant: principal.tenantID, store: store))
                } catch let error as AdminError {
                    throw error.httpError
                }
            }
        }
    }
}

/// One admin route: what it answers and how.
struct AdminRoute: Sendable {
    let method: HTTPMethod
    let path: String
    let handler: @Sendable (AdminRequest) async throws -> HTTPResponse

    init(_ method: HTTPMethod, _ path: String, _ handler: @escaping @Sendable (AdminRequest) async throws -> HTTPResponse) {
        self.method = method
        self.path = path
        self.handler = handler
    }
}

/// An authenticated admin's request: the tenant they act in and the store acting as them.
struct AdminRequest: Sendable {
    let context: RequestContext
    let tenant: UUID
    let store: AdminStore

    /// The JSON body (415, 400 and 422 for what cannot be decoded).
    func body<T: Decodable>(_ type: T.Type) throws -> T { try context.decodeJSON(T.self) }

    /// The path's `:id`; anything but a UUID is answered like an unknown id.
    func id(_ what: String) throws -> UUID {
        try API.uuid(context, "id", notFound: AdminError.notFound(what).httpError)
    }

    func query(_ name: String) -> String? { context.request.queryParameters[name] }

    /// `value` as JSON, never cached.
    func answer<T: Encodable>(_ value: T, status: HTTPStatus = .ok) throws -> HTTPResponse {
        try .json(value, status: status, headers: ["Cache-Control": "no-store"])
    }

    /// `{"items": [...]}`.
    func list<T: Encodable>(_ items: [T]) throws -> HTTPResponse {
        try answer(["items": items])
    }
}

extension AdminError {
    /// The problem the admin API answers with.
    var httpError: HTTPError {
        switch kind {
        case .notFound: HTTPError(.notFound, code: code, detail: message)
        case .conflict: HTTPError(.conflict, code: code, detail: message)
        case .invalid:
            HTTPError(.unprocessableContent, code: code, detail: message,
                      errors: fieldErrors.map { Problem.FieldError(field: $0.field, code: $0.code, message: $0.message) })
        }
    }
}
