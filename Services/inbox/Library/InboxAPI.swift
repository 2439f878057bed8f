import Domain
import HTTPServer
import JobQueue
import Postgres

/// All routes of the inbox service.
public struct InboxAPI: Sendable {
    let caseworkers: CaseworkerAPI
    let admin: AdminAPI

    /// - Parameters:
    ///   - listener: wakes long-polls; without one, `wait` is ignored.
    ///   - longPollLimitSeconds: longest a long-poll is held (requests may ask for up to 60 s).
    ///   - tokenUse: notes each caseworker token's use (`last_used_at`); nil records nothing.
    public init(pool: PostgresPool, queue: JobQueue, listener: PostgresListener?, longPollLimitSeconds: Int = 60,
                tokenUse: CredentialUseRecorder? = nil) {
        let store = ApplicationStore(pool: pool, queue: queue)
        let authentication = CaseworkerAuthentication(pool: pool, lastUse: tokenUse)
        caseworkers = CaseworkerAPI(pool: pool, authentication: authentication, store: store, listing: InboxListing(pool: pool), listener: listener,
                                    longPollLimitSeconds: min(max(longPollLimitSeconds, 1), CaseworkerAPI.maxWaitSeconds))
        admin = AdminAPI(pool: pool, authentication: authentication, queue: queue)
    }

    public func register(on router: inout Router) {
        caseworkers.register(on: &router)
        admin.register(on: &router)
        router.get("/openapi.yaml") { _ in
            HTTPResponse(status: .ok, headers: ["Content-Type": "application/yaml; charset=utf-8"], body: Array(OpenAPIDocument.yaml.utf8))
        }
    }
}
