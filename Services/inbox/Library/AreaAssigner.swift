import Domain
import FoundationEssentials
import JobQueue
import Postgres

/// Whether an area can take applications, for the tenant's fallback-area setting. (A forward's
/// area is checked by the lifecycle, in its own statement.)
struct AreaAssigner: Sendable {
    let queue: JobQueue

    /// Whether an area can take an application of `service`.
    enum Fit: Equatable {
        case fits
        /// No active area with this id in the tenant.
        case unknown
        /// The area belongs to another service of the tenant.
        case otherService
    }

    /// `service` nil: any active area of the tenant fits (the tenant's fallback area).
    func fit(of area: UUID, tenant: UUID, service: UUID?, in tx: Transaction) async throws -> Fit {
        let rows = try await tx.query("SELECT service_id FROM responsibility_areas WHERE tenant_id = \(tenant) AND id = \(area) AND active")
        guard let row = rows.first else { return .unknown }
        if let service, let owner = try row.decode("service_id", as: UUID?.self), owner != service { return .otherService }
        return .fits
    }
}
