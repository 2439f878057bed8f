import Domain
import FoundationEssentials

/// Why the lifecycle refused a change. `code` is stable (the API's problem `code`); the HTTP
/// layer chooses the status. Carries no personal data.
public struct LifecycleError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No such application in the caller's scope.
        public static let notFound = Code("application-not-found")
        /// The transition does not start from the application's state.
        public static let invalidTransition = Code("invalid-transition")
        /// Another caseworker holds the application.
        public static let claimedByOther = Code("claimed-by-other")
        /// Only the holder may do this, and the caller does not hold it.
        public static let notClaimed = Code("not-claimed")
        /// The caller's version (If-Match) is not the application's.
        public static let versionMismatch = Code("precondition-failed")
        /// Retention deleted the application's personal data.
        public static let personalDataDeleted = Code("personal-data-deleted")
        /// Forward: the area is the application's current one.
        public static let sameArea = Code("same-area")
        /// Forward: no active area with that id in the tenant.
        public static let unknownArea = Code("unknown-area")
        /// Forward: the area belongs to another service.
        public static let areaOfAnotherService = Code("area-of-another-service")
    }

    public var code: Code
    public var detail: String
    public var currentState: ApplicationStatus?
    public var currentVersion: Int?
    public var holderID: UUID?
    public var holderName: String?

    public init(_ code: Code, _ detail: String, state: ApplicationStatus? = nil, version: Int? = nil,
                holderID: UUID? = nil, holderName: String? = nil) {
        self.code = code
        self.detail = detail
        currentState = state
        currentVersion = version
        self.holderID = holderID
        self.holderName = holderName
    }

    public var description: String { "\(code): \(detail)" }

    static let notFound = LifecycleError(.notFound, "No application with this id in your inbox.")
}
