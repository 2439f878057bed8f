import Domain
import FoundationEssentials
import JobQueue
import Postgres
import QueueContracts

/// The one owner of every change of an application (DESIGN.md "Application lifecycle"): routing,
/// claim, release, forward, status changes and completion, questions and replies, withdrawal,
/// messages, notes and retention's deletion. Each command works in the caller's transaction and
/// writes, together, the row change (version + 1), its timeline event, its audit entry, the
/// applicant's status message (``Transition/sendsStatusMessage(from:to:)``, the tenant's template
/// text) and its follow-up jobs; long-polls of the areas concerned are woken after the commit.
///
/// It throws ``LifecycleError`` with stable codes; the HTTP status is the API's business.
public struct ApplicationLifecycle: Sendable {
    public let queue: JobQueue

    public init(queue: JobQueue) { self.queue = queue }

    /// What a transition did.
    public struct Outcome: Sendable {
        /// The application as it was before.
        public var previous: ApplicationState
        public var summary: ApplicationSummary
        /// The applicant's status message, when one was queued.
        public var statusMessageID: UUID?
        /// Active members of the area it landed in (when the area is told).
        public var activeMembers: Int
        /// Caseworkers who get a `new_application` e-mail.
        public var notifiedCaseworkers: [UUID]
    }

    // MARK: Reading with the row lock

    /// The application, locked for the rest of `transaction`, if the scope sees it.
    public func lock(_ id: UUID, scope: Scope, in transaction: Transaction) async throws -> ApplicationState? {
        let rows = try await transaction.query(ApplicationState.locking(id, scope: scope))
        return try rows.first.map(ApplicationState.init(row:))
    }

    // MARK: Transitions

    /// Runs `transition` to `target` on the application `id` in one statement, then checks the
    /// rules on the state it found; a refusal throws and so rolls the caller's transaction back.
    ///
    /// - Parameters:
    ///   - expectedVersion: the caller's `If-Match` (every caseworker write has one); nil for
    ///     the system's own steps.
    ///   - area: `.some(area)` moves the application there; routing and forwards tell its members.
    ///   - data: timeline data and audit details: ids and state names only, never personal data.
    @discardableResult
    public func apply(
        _ transition: Transition, to target: ApplicationStatus? = nil, application id: UUID, scope: Scope, actor: Actor,
        expectedVersion: Int?, area: UUID?? = nil, outcome: ApplicationOutcome? = nil, data: [String: String] = [:],
        requestID: String? = nil, in transaction: Transaction
    ) async throws -> Outcome {
        guard let target = target ?? (transition.targets.count == 1 ? transition.targets.first : nil), transition.targets.contains(target) else {
            preconditionFailure("\(transition) does not lead to \(String(describing: target))")
        }
        let statement = TransitionStatement(
            transition: transition, target: target, id: id, scope: scope, actor: actor, expectedVersion: expectedVersion,
            newArea: area, outcome: outcome, data: data, requestID: requestID, notifyArea: area != nil && (area ?? nil) != nil)
        let rows = try await transaction.query(statement.query)
        guard let row = rows.first else { throw LifecycleError.notFound }
        let previous = try ApplicationState(row: row)
        try Self.check(transition, on: previous, actor: actor, expectedVersion: expectedVersion)
        if transition == .forward, let newArea = area ?? nil {
            try Self.checkArea(newArea, for: previous, found: try row.decode("target_area_found"),
                               service: try row.decode("target_area_service_id", as: UUID?.self))
        }
        guard try row.decode("new_id", as: UUID?.self) != nil else {
            // The rules above passed but the row did not change: the statement and the rules disagree.
            throw LifecycleError(.invalidTransition, "The application is \(previous.status.rawValue); it cannot become \(target.rawValue).",
                                 state: previous.status)
        }
        let outcome = Outcome(
            previous: previous, summary: try ApplicationSummary(row: row, prefix: "new_"),
            statusMessageID: try row.decode("status_message_id", as: UUID?.self),
            activeMembers: try row.decode("active_members"), notifiedCaseworkers: try row.decode("recipients", as: [UUID].self))
        var woken: [QueueName] = []
        if try row.decode("outbox_jobs", as: Int.self) > 0 { woken.append(.citizenOutbox) }
        if try row.decode("email_jobs", as: Int.self) > 0 { woken.append(.notifyEmail) }
        queue.wakeAfterCommit(woken, transaction)
        wakeInboxes(of: [previous.areaID, (area ?? nil)], application: id, in: transaction)
        return outcome
    }

    /// Wakes the long-polls of `areas` once `transaction` commits.
    public func wakeInboxes(of areas: [UUID?], application: UUID, in transaction: Transaction) {
        guard let notifier = queue.notifier else { return }
        let unique = Set(areas.compactMap { $0 })
        guard !unique.isEmpty else { return }
        transaction.afterCommit { for area in unique { notifier.wake(inboxOf: area, application: application) } }
    }

    // MARK: The rules on the state found

    /// Who may do `transition` on `state`, in the order a caller learns of it: someone else
    /// holds it, the version moved on, the state does not allow it, the caller does not hold it.
    static func check(_ transition: Transition, on state: ApplicationState, actor: Actor, expectedVersion: Int?) throws(LifecycleError) {
        let me = actor.caseworkerID
        switch transition.permission {
        case .system: break
        case .notHeldByOther, .holder: try requireNotHeldByOther(state, me)
        case .notHeldByOtherUnlessAdmin: if !actor.isAdmin { try requireNotHeldByOther(state, me) }
        }
        if let expectedVersion { try requireVersion(state, expectedVersion) }
        guard transition.sources.contains(state.status) else {
            let target = transition.targets.map(\.rawValue).sorted().joined(separator: " or ")
            throw LifecycleError(.invalidTransition, "The application is \(state.status.rawValue); it cannot become \(target).", state: state.status)
        }
        if transition.permission == .holder { try requireHolder(state, me) }
    }

    /// Unless the caller saw the application at its current version.
    public static func requireVersion(_ state: ApplicationState, _ version: Int) throws(LifecycleError) {
        guard version == state.version else {
            throw LifecycleError(.versionMismatch, "The application has changed (version \(state.version)); fetch it again.",
                                 state: state.status, version: state.version)
        }
    }

    /// 409 naming the holder when someone other than `caseworker` works on the application.
    public static func requireNotHeldByOther(_ state: ApplicationState, _ caseworker: UUID?) throws(LifecycleError) {
        if let holder = state.activeHolder, holder != caseworker {
            throw LifecycleError(.claimedByOther, "The application is being worked on by \(state.claimedByName ?? "another caseworker").",
                                 state: state.status, holderID: holder, holderName: state.claimedByName ?? "")
        }
    }

    /// Unless `caseworker` holds the application.
    public static func requireHolder(_ state: ApplicationState, _ caseworker: UUID?) throws(LifecycleError) {
        try requireNotHeldByOther(state, caseworker)
        guard let caseworker, state.claimedBy == caseworker else {
            throw LifecycleError(.notClaimed, "Claim the application before working on it.", state: state.status)
        }
    }

    /// A forward's area: an active area of the tenant, of the application's service or
    /// tenant-wide, and not the one it is in.
    static func checkArea(_ area: UUID, for state: ApplicationState, found: Bool, service: UUID?) throws(LifecycleError) {
        guard found else { throw LifecycleError(.unknownArea, "is not an active area of your tenant", state: state.status) }
        if let service, service != state.serviceID {
            throw LifecycleError(.areaOfAnotherService,
                                 "belongs to another service; choose an area of this application's service or a tenant-wide one", state: state.status)
        }
        if state.areaID == area { throw LifecycleError(.sameArea, "is the application's current area", state: state.status) }
    }
}
