import Domain
import FoundationEssentials
import JobQueue
import Postgres

/// What happens around assigning an application to an area when a caseworker or admin
/// forwards it (the one forward; routing assigns new applications by its rules): the area must be
/// an active area of the tenant, of the application's service or tenant-wide, and its members who
/// want e-mail get a `notify-email` job (`{"kind": "new_application", "application_id",
/// "caseworker_id"}`).
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

    func afterAssignment(tenant: UUID, application: UUID, area: UUID, in tx: Transaction) async throws {
        let members = try await tx.query("""
            SELECT c.id FROM area_members m JOIN caseworkers c ON c.tenant_id = m.tenant_id AND c.id = m.caseworker_id
            WHERE m.tenant_id = \(tenant) AND m.area_id = \(area) AND c.active AND c.email_notifications
            ORDER BY c.id
            """)
        let jobs = try members.map { row -> NewJob in
            let caseworker = try row.decode("id", as: UUID.self).lowercased
            return try NewJob(queue: .notifyEmail,
                              payload: ["kind": "new_application", "application_id": application.lowercased, "caseworker_id": caseworker],
                              tenantID: tenant)
        }
        try await queue.enqueue(jobs, in: tx)
    }
}
