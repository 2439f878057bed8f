import HTTPServer
import JobQueue
import Postgres

/// All routes of the inbox service.
public struct InboxAPI: Sendable {
    let caseworkers: CaseworkerAPI
    let admin: AdminAPI

    /// - Parameter listener: wakes long-polls; without one, `wait` is ignored.
    public init(pool: PostgresPool, queue: JobQueue, listener: PostgresListener?) {
        let store = ApplicationStore(pool: pool, queue: queue)
        let assigner = AreaAssigner(queue: queue)
        caseworkers = CaseworkerAPI(pool: pool, store: store, listing: InboxListing(pool: pool), listener: listener, assigner: assigner)
        admin = AdminAPI(pool: pool, queue: queue, store: store, assigner: assigner)
    }

    public func register(on router: inout Router) {
        caseworkers.register(on: &router)
        admin.register(on: &router)
        router.get("/openapi.yaml") { _ in
            HTTPResponse(status: .ok, headers: ["Content-Type": "application/yaml; charset=utf-8"], body: Array(OpenAPIDocument.yaml.utf8))
        }
    }
}
