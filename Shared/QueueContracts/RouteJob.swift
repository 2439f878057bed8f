import FoundationEssentials
import JobQueue

/// `route` (intake → routing): an accepted application waiting to be routed; the tenant is the
/// job's. One live job per application.
public struct RouteJob: QueueContract, Equatable {
    public static let queue = QueueName.route
    public var applicationID: String

    public init(applicationID: UUID) { self.applicationID = applicationID.uuidString.lowercased() }

    public var dedupeKey: String? { "route:" + applicationID }

    enum CodingKeys: String, CodingKey { case applicationID = "application_id" }
}
