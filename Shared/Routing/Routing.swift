import Foundation
import ApplicationLifecycle
import Domain
import JobQueue
import Logging
import Metrics
import Postgres
import Synchronization

/// What routing did with one application.
public struct RoutingOutcome: Sendable, Equatable {
    public enum Decision: String, Sendable {
        /// A rule matched; the application is in that rule's area.
        case matchedRule = "rule"
        /// No rule matched; the application is in the tenant's fallback area.
        case fallback
        /// No rule matched and there is no (active) fallback area: status `unroutable`.
        case unroutable
        /// Already routed (or withdrawn) before this job ran: nothing changed.
        case alreadyRouted = "already_routed"
    }

    public var applicationID: UUID
    public var tenantID: UUID
    public var decision: Decision
    /// The area it is in now (nil when unroutable or skipped).
    public var areaID: UUID?
    /// The rule that matched (`matchedRule` only).
    public var ruleID: UUID?
    /// Active members of the area.
    public var activeMembers: Int
    /// Caseworkers who get a `notify-email` job.
    public var notifiedCaseworkers: [UUID]
    /// The receipt status message, when the applicant has a postbox and none was sent before.
    public var receiptMessageID: UUID?
    /// The service was deactivated after intake (the application is still routed).
    public var serviceInactive: Bool
    /// Status before this step.
    public var previousStatus: ApplicationStatus
}

/// Why routing could not handle an application.
public struct RoutingError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        public static let applicationNotFound = Code("application_not_found")
        /// The application changed status while being routed.
        public static let invalidTransition = Code("invalid_transition")
    }

    public var code: Code
    public var message: String

    public var description: String { "\(code): \(message)" }
}

/// Routing of new applications to responsibility areas. (A forward to a chosen area is the
/// inbox's, `POST /v1/applications/{id}/forward`.) Every method works inside the caller's
/// transaction: the state change, its timeline event and audit entry, the `notify-email` jobs, the
/// receipt message and its `citizen-outbox` job commit together or not at all (the lifecycle's
/// `route` transition). Inboxes of the area are woken after the commit by the queue's notifier.
public struct Routing: Sendable {
    public let lifecycle: ApplicationLifecycle
    public let metrics: RoutingMetrics
    public let logger: Logger
    private let ruleCache = RuleCache()

    public init(queue: JobQueue, metrics: MetricsRegistry? = nil, logger: Logger) {
        lifecycle = ApplicationLifecycle(queue: queue)
        self.metrics = RoutingMetrics(registry: metrics ?? MetricsRegistry())
        self.logger = logger
    }

    // MARK: Routing a received application

    /// Routes a `received` application: evaluates its service's rules in position order (rules of
    /// inactive areas are skipped), falls back to the tenant's fallback area, else marks it
    /// `unroutable`. Locks the application row; an application no longer `received` is left
    /// alone (`alreadyRouted`), so a second job for it changes nothing.
    /// - Parameter tenant: the tenant the job names; nil looks the application up by id alone.
    public func route(application: UUID, tenant: UUID?, in transaction: Transaction) async throws -> RoutingOutcome {
        let rows = try await transaction.query("""
            SELECT a.tenant_id, a.status,
                   a.applicant -> 'address' ->> 'municipality_key' AS municipality_key,
                   a.applicant -> 'address' ->> 'postal_code' AS postal_code,
                   CASE WHEN EXISTS (SELECT 1 FROM area_rules fr WHERE fr.tenant_id = a.tenant_id AND fr.service_id = a.service_id
                                     AND fr.kind = 'form_field') THEN a.form END AS form,
                   s.active AS service_active,
                   t.fallback_area_id, coalesce(fa.active, false) AS fallback_active,
                   coalesce((SELECT jsonb_agg(jsonb_build_object('id', r.id, 'area_id', r.area_id, 'position', r.position,
                                                                 'kind', r.kind, 'definition', r.definition) ORDER BY r.position)
                             FROM area_rules r JOIN responsibility_areas ra ON ra.tenant_id = r.tenant_id AND ra.id = r.area_id
                             WHERE r.tenant_id = a.tenant_id AND r.service_id = a.service_id AND ra.active), '[]'::jsonb) AS rules
            FROM applications a
            JOIN services s ON s.tenant_id = a.tenant_id AND s.id = a.service_id
            JOIN tenants t ON t.id = a.tenant_id
            LEFT JOIN responsibility_areas fa ON fa.tenant_id = a.tenant_id AND fa.id = t.fallback_area_id
            WHERE a.id = \(application) AND (\(tenant)::uuid IS NULL OR a.tenant_id = \(tenant)::uuid)
            FOR NO KEY UPDATE OF a
            """)
        guard let row = rows.first else {
            throw RoutingError(code: .applicationNotFound, message: "no application \(application.uuidString.lowercased()) in this tenant")
        }
        let tenantID = try row.decode("tenant_id", as: UUID.self)
        let status = ApplicationStatus(rawValue: try row.decode("status")) ?? .received
        let serviceActive = try row.decode("service_active", as: Bool.self)
        guard status == .received else {
            let outcome = RoutingOutcome(applicationID: application, tenantID: tenantID, decision: .alreadyRouted, areaID: nil, ruleID: nil,
                                         activeMembers: 0, notifiedCaseworkers: [], receiptMessageID: nil,
                                         serviceInactive: !serviceActive, previousStatus: status)
            transaction.afterCommit { [metrics] in metrics.record(outcome) }
            return outcome
        }

        let subject = RoutingSubject(
            municipalityKey: try row.decode("municipality_key", as: String?.self),
            postalCode: try row.decode("postal_code", as: String?.self),
            form: try row.rawBytes("form").map { try JSONDecoder().decode(JSONValue.self, from: $0) }
        )
        let ruleSet = try cachedRuleSet(try row.rawBytes("rules") ?? Data("[]".utf8), tenant: tenantID)
        let decision: RoutingOutcome.Decision
        var area: UUID?
        var matched: PlacedRule?
        if let rule = ruleSet.firstMatch(for: subject) {
            decision = .matchedRule
            area = rule.areaID
            matched = rule
        } else if let fallback = try row.decode("fallback_area_id", as: UUID?.self), try row.decode("fallback_active", as: Bool.self) {
            decision = .fallback
            area = fallback
        } else {
            decision = .unroutable
        }

        var data: [String: String] = ["decision": decision.rawValue]
        if let area { data["area_id"] = area.uuidString.lowercased() }
        if let matched {
            data["rule_id"] = matched.id?.uuidString.lowercased()
            data["rule_position"] = String(matched.position)
            data["rule_kind"] = matched.rule.kind.rawValue
        }
        switch decision {
        case .fallback: data["note"] = "no rule matched; tenant fallback area"
        case .unroutable: data["note"] = "no rule matched and no fallback area"
        default: break
        }
        if !serviceActive { data["service_inactive"] = "true" }

        let result = try await lifecycle.apply(
            .route, to: area == nil ? .unroutable : .assigned, application: application, scope: Scope(tenantID: tenantID), actor: .system,
            expectedVersion: nil, area: .some(area), data: data, in: transaction)
        let outcome = RoutingOutcome(
            applicationID: application, tenantID: tenantID, decision: decision, areaID: area, ruleID: matched?.id,
            activeMembers: result.activeMembers, notifiedCaseworkers: result.notifiedCaseworkers, receiptMessageID: result.statusMessageID,
            serviceInactive: !serviceActive, previousStatus: status)
        transaction.afterCommit { [metrics, logger] in
            metrics.record(outcome)
            if let area = outcome.areaID, outcome.activeMembers == 0 {
                logger.warning("application assigned to an area without active members: nobody is notified", [
                    "tenant_id": outcome.tenantID.uuidString.lowercased(), "area_id": area.uuidString.lowercased(),
                    "application_id": outcome.applicationID.uuidString.lowercased(),
                ])
            } else if outcome.decision == .unroutable {
                logger.warning("application is unroutable: no rule matched and the tenant has no fallback area", [
                    "tenant_id": outcome.tenantID.uuidString.lowercased(), "application_id": outcome.applicationID.uuidString.lowercased(),
                ])
            }
        }
        return outcome
    }

    // MARK: Rules as stored

    struct StoredRule: Decodable {
        var id: UUID
        var areaID: UUID
        var position: Int
        var kind: String
        var definition: JSONValue
        enum CodingKeys: String, CodingKey {
            case id, position, kind, definition
            case areaID = "area_id"
        }
    }

    /// The parsed rules for their exact stored text: a changed rule is new text, so the cache
    /// never serves stale rules.
    private func cachedRuleSet(_ text: Data, tenant: UUID) throws -> RuleSet {
        if let cached = ruleCache.get(text) { return cached }
        let set = try ruleSet(try JSONDecoder().decode([StoredRule].self, from: text), tenant: tenant)
        ruleCache.put(text, set)
        return set
    }

    /// Stored rules that no longer pass validation are skipped with a warning, never half-applied.
    private func ruleSet(_ stored: [StoredRule], tenant: UUID) throws -> RuleSet {
        var placed: [PlacedRule] = []
        placed.reserveCapacity(stored.count)
        for rule in stored {
            do {
                placed.append(PlacedRule(id: rule.id, areaID: rule.areaID, position: rule.position, rule: try RoutingRule(kind: rule.kind, definition: rule.definition)))
            } catch {
                logger.warning("skipping an invalid stored routing rule", [
                    "tenant_id": tenant.uuidString.lowercased(), "rule_id": rule.id.uuidString.lowercased(), "error": error.description,
                ])
            }
        }
        return RuleSet(placed)
    }
}

/// Parsed rule sets by their stored JSON text, at most `capacity` (then emptied).
final class RuleCache: Sendable {
    private let entries = Mutex<[Data: RuleSet]>([:])
    private let capacity = 2000
    func get(_ key: Data) -> RuleSet? { entries.withLock { $0[key] } }
    func put(_ key: Data, _ value: RuleSet) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = value
        }
    }
}

/// Routing's figures in `/metrics`.
public struct RoutingMetrics: Sendable {
    let applications: Counter
    let areasWithoutMembers: Counter
    let notifications: Counter
    let receipts: Counter

    public init(registry: MetricsRegistry) {
        applications = registry.counter("amtsweg_routing_applications_total", help: "Applications routed, by decision (rule, fallback, unroutable, already_routed)")
        areasWithoutMembers = registry.counter("amtsweg_routing_assigned_without_members_total", help: "Applications assigned to an area without active members (nobody notified)")
        notifications = registry.counter("amtsweg_routing_notify_email_jobs_total", help: "notify-email jobs enqueued for caseworkers")
        receipts = registry.counter("amtsweg_routing_receipts_total", help: "Receipt status messages queued for applicants' postboxes")
    }

    func record(_ outcome: RoutingOutcome) {
        applications.increment(by: 1, ["decision": outcome.decision.rawValue])
        if outcome.areaID != nil && outcome.activeMembers == 0 { areasWithoutMembers.increment(by: 1) }
        if !outcome.notifiedCaseworkers.isEmpty { notifications.increment(by: Double(outcome.notifiedCaseworkers.count)) }
        if outcome.receiptMessageID != nil { receipts.increment(by: 1) }
    }

    /// Applications with `decision` so far.
    public func count(_ decision: RoutingOutcome.Decision) -> Double { applications.value(["decision": decision.rawValue]) }
    public var assignedWithoutMembers: Double { areasWithoutMembers.value() }
}
