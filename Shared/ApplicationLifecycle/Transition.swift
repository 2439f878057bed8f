import Domain
import FoundationEssentials

/// The application lifecycle (DESIGN.md "Application lifecycle"), once: every change of an
/// application's status is one of these transitions, and nothing else moves an application.
///
/// ```
/// received ──route──▶ assigned ──claim──▶ in_progress ──ask──▶ awaiting_applicant
///    │                  ▲   ▲ ◀──release──┘   ▲ ◀──resume / reply──┘
///    └──route──▶ unroutable  └──────forward (from every open state, received included)
/// in_progress, awaiting_applicant ──complete──▶ completed;  every open state ──withdraw──▶ withdrawn
/// ```
public enum Transition: String, Sendable, CaseIterable {
    /// Routing: `received` → `assigned` (a rule or the fallback area) or `unroutable`.
    case route
    case claim, release, forward
    /// A question was sent, or the caseworker waits for the applicant.
    case ask
    /// The caseworker goes on without waiting for the reply.
    case resume
    /// The applicant's reply arrived.
    case reply
    case complete
    /// The form system withdraws it on the applicant's behalf.
    case withdraw

    /// The states this transition starts from.
    public var sources: Set<ApplicationStatus> {
        switch self {
        case .route: [.received]
        case .claim: [.assigned]
        case .release: [.inProgress]
        case .forward: [.received, .assigned, .inProgress, .awaitingApplicant, .unroutable]
        case .ask: [.inProgress]
        case .resume, .reply: [.awaitingApplicant]
        case .complete: [.inProgress, .awaitingApplicant]
        case .withdraw: Set(ApplicationStatus.allCases.filter(\.isOpen))
        }
    }

    /// Where it leads; `route` leads to `assigned` or `unroutable` as the rules decide.
    public var targets: Set<ApplicationStatus> {
        switch self {
        case .route: [.assigned, .unroutable]
        case .claim, .resume, .reply: [.inProgress]
        case .release, .forward: [.assigned]
        case .ask: [.awaitingApplicant]
        case .complete: [.completed]
        case .withdraw: [.withdrawn]
        }
    }

    /// Who holds the application afterwards.
    public enum Holder: Sendable { case unchanged, actor, nobody }
    public var holder: Holder {
        switch self {
        case .claim: .actor
        case .route, .release, .forward: .nobody
        case .ask, .resume, .reply, .complete, .withdraw: .unchanged
        }
    }

    /// Who may do it: the system (routing, the applicant's reply, the form system's withdrawal)
    /// or a caseworker, and which caseworker.
    public enum Permission: Sendable {
        case system
        /// Any caseworker who sees it, unless someone else holds it.
        case notHeldByOther
        /// As `notHeldByOther`, but admins may also take it from the holder.
        case notHeldByOtherUnlessAdmin
        /// Only the caseworker who holds it.
        case holder
    }
    public var permission: Permission {
        switch self {
        case .route, .reply, .withdraw: .system
        case .claim: .notHeldByOther
        case .release, .forward: .notHeldByOtherUnlessAdmin
        case .ask, .resume, .complete: .holder
        }
    }

    public func timelineEvent(to target: ApplicationStatus) -> TimelineEventKind {
        switch self {
        case .route: target == .unroutable ? .unroutable : .assigned
        case .claim: .claimed
        case .release: .released
        case .forward: .forwarded
        case .ask: .awaitingApplicant
        case .resume, .reply: .resumed
        case .complete: .completed
        case .withdraw: .withdrawn
        }
    }

    /// `unroutable` is for the tenant's admins; every other step is on the public timeline.
    public func timelineVisibility(to target: ApplicationStatus) -> String { target == .unroutable ? "internal" : "public" }

    public var auditAction: String {
        switch self {
        case .route: "application.route"
        case .claim: "application.claim"
        case .release: "application.release"
        case .forward: "application.forward"
        case .ask, .resume, .reply, .complete: "application.status"
        case .withdraw: "application.withdraw"
        }
    }

    /// The transition a caseworker's `POST …/status` asks for.
    public static func statusChange(to target: ApplicationStatus) -> Transition? {
        switch target {
        case .awaitingApplicant: .ask
        case .inProgress: .resume
        case .completed: .complete
        default: nil
        }
    }

    /// Whether the applicant gets a status message for this step: when the BundID status
    /// (`ApplicationStatus.postboxStatus`) changes, and for the first step out of `received`
    /// (intake itself sends none, so routing's — or a forward's, or a withdrawal's — is the receipt).
    public static func sendsStatusMessage(from source: ApplicationStatus, to target: ApplicationStatus) -> Bool {
        source == .received || source.postboxStatus != target.postboxStatus
    }
}

/// Who changes an application (timeline and audit name them).
public enum Actor: Sendable, Equatable {
    case caseworker(id: UUID, isAdmin: Bool)
    case intakeClient(id: UUID)
    case applicant
    case system

    var kind: ActorKind {
        switch self {
        case .caseworker: .caseworker
        case .intakeClient: .intakeClient
        case .applicant: .applicant
        case .system: .system
        }
    }

    var caseworkerID: UUID? {
        if case .caseworker(let id, _) = self { return id }
        return nil
    }

    /// The id the audit log records (caseworker or intake client).
    var auditID: UUID? {
        switch self {
        case .caseworker(let id, _), .intakeClient(let id): id
        case .applicant, .system: nil
        }
    }

    var isAdmin: Bool {
        if case .caseworker(_, let isAdmin) = self { return isAdmin }
        return false
    }
}

/// Which applications a caller can see: its tenant, and within it perhaps only some areas (a
/// caseworker who is not an admin) or the services an intake key is bound to. Outside the scope
/// an application does not exist for the caller.
public struct Scope: Sendable {
    public var tenantID: UUID
    /// nil: every area of the tenant (admins, the system).
    public var areaIDs: [UUID]?
    /// An intake client bound to some services (`intake_client_services`); nil: every service.
    public var boundIntakeClient: UUID?

    public init(tenantID: UUID, areaIDs: [UUID]? = nil, boundIntakeClient: UUID? = nil) {
        self.tenantID = tenantID
        self.areaIDs = areaIDs
        self.boundIntakeClient = boundIntakeClient
    }
}
