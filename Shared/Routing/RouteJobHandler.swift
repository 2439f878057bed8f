import Foundation
import Domain
import JobQueue
import Metrics
import QueueContracts
import Postgres

/// Consumes the `route` queue: each job's routing commits in the same transaction as its ack,
/// so an application is routed exactly once however many replicas run and however often a job
/// is delivered.
public struct RouteJobHandler: TransactionalJobHandler {
    public let routing: Routing
    private let queueToAssigned: Histogram

    public init(routing: Routing, metrics: MetricsRegistry? = nil) {
        self.routing = routing
        queueToAssigned = (metrics ?? MetricsRegistry()).histogram(
            "amtsweg_routing_queue_to_routed_seconds", help: "From the route job's enqueue to the routing commit")
    }

    public func handle(_ job: Job, in transaction: Transaction) async throws {
        let payload = try job.payload(as: RouteJob.self)
        guard let application = UUID(uuidString: payload.applicationID) else {
            throw JobFailure.permanent(reason: "route job names an invalid application id")
        }
        do {
            let outcome = try await routing.route(application: application, tenant: job.tenantID, in: transaction)
            if outcome.decision != .alreadyRouted {
                let enqueued = job.createdAt
                transaction.afterCommit { [queueToAssigned] in
                    queueToAssigned.observe(max(0, Date().timeIntervalSince(enqueued)))
                }
            }
        } catch let error as RoutingError where error.code == .applicationNotFound {
            throw JobFailure.permanent(reason: error.description)
        }
    }
}
