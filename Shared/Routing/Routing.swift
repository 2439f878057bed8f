import Foundation
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

/// Payload of the `notify-email` job routing enqueues for each caseworker.
public struct NewApplicationEmailPayload: Codable, Sendable, Equatable {
    public var kind: String
    public var applicationID: String
    public var caseworkerID: String
    public init(applicationID: UUID, caseworkerID: UUID) {
        kind = "new_application"
        self.applicationID = applicationID.uuidString.lowercased()
        self.caseworkerID = caseworkerID.uuidString.lowercased()
    }
    enum CodingKeys: String, CodingKey {
        case kind
        case applicationID = "application_id"
        case caseworkerID = "caseworker_id"
    }
}

/// Routing of new applications to responsibility areas. (A forward to a chosen area is the
/// inbox's, `POST /v1/applications/{id}/forward`.) Every method works inside the caller's
/// transaction: the state change, its timeline event and audit entry, the `notify-email` jobs, the
/// receipt message and its `citizen-outbox` job commit together or not at all. Inboxes of the area
/// are woken after the commit (``InboxNotifier``).
public struct Routing: Sendable {
    public let queue: JobQueue
    public let inboxNotifier: InboxNotifier?
    public let metrics: RoutingMetrics
    public let logger: Logger
    private let ruleCache = RuleCache()

    public init(queue: JobQueue, inboxNotifier: InboxNotifier?, metrics: MetricsRegistry? = nil, logger: Logger) {
        self.queue = queue
        self.inboxNotifier = inboxNotifier
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
            SELECT a.tenant_id, a.status, a.reference, a.postbox_mailbox_id, a.postbox_trust_level,
                   a.applicant -> 'address' ->> 'municipality_key' AS municipality_key,
                   a.applicant -> 'address' ->> 'postal_code' AS postal_code,
                   CASE WHEN EXISTS (SELECT 1 FROM area_rules fr WHERE fr.tenant_id = a.tenant_id AND fr.service_id = a.service_id
                                     AND fr.kind = 'form_field') THEN a.form END AS form,
                   s.active AS service_active, s.name AS service_name,
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
            FOR UPDATE OF a
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

        return try await apply(Step(
            tenantID: tenantID, applicationID: application, from: status, to: area == nil ? .unroutable : .assigned, areaID: area,
            decision: decision, ruleID: matched?.id, timelineKind: decision == .unroutable ? .unroutable : .assigned,
            publicTimeline: decision != .unroutable, data: data,
            reference: try row.decode("reference"), serviceName: try row.decode("service_name"),
            mailbox: try row.decode("postbox_mailbox_id", as: UUID?.self), trustLevel: try row.decode("postbox_trust_level", as: String?.self),
            serviceInactive: !serviceActive
        ), in: transaction)
    }

    // MARK: The write path

    struct Step {
        var tenantID: UUID
        var applicationID: UUID
        var from: ApplicationStatus
        var to: ApplicationStatus
        var areaID: UUID?
        var decision: RoutingOutcome.Decision
        var ruleID: UUID?
        var timelineKind: TimelineEventKind
        var publicTimeline: Bool
        var data: [String: String]
        var reference: String
        var serviceName: String
        var mailbox: UUID?
        var trustLevel: String?
        var serviceInactive: Bool
    }

    /// One statement for everything: the state change, timeline, audit, receipt, and the
    /// `notify-email` and `citizen-outbox` jobs. The jobs are inserted here rather than through
    /// `JobQueue.enqueue` to save a round trip per application on the hot path; they are the
    /// same rows `enqueue` writes (queue default attempts, dedupe keys, `ON CONFLICT DO NOTHING`),
    /// and the queue's notifier wakes their consumers after the commit as `enqueue` would.
    private func apply(_ step: Step, in transaction: Transaction) async throws -> RoutingOutcome {
        let subject = "Antrag \(step.reference) eingegangen"
        let body = "Ihr Antrag „\(step.serviceName)“ mit der Vorgangsnummer \(step.reference) ist eingegangen und wird bearbeitet."
        let app = step.applicationID.uuidString.lowercased()
        let rows = try await transaction.query("""
            WITH app AS (
                UPDATE applications
                SET status = \(step.to.rawValue), area_id = \(step.areaID), claimed_by = NULL, version = version + 1, updated_at = now()
                WHERE tenant_id = \(step.tenantID) AND id = \(step.applicationID) AND status = \(step.from.rawValue)
                RETURNING id, tenant_id
            ), timeline AS (
                INSERT INTO timeline_events (tenant_id, application_id, kind, visibility, actor_kind, actor_caseworker_id, from_status, to_status, data)
                SELECT tenant_id, id, \(step.timelineKind.rawValue), \(step.publicTimeline ? "public" : "internal"), 'system',
                       NULL, \(step.from.rawValue), \(step.to.rawValue), \(PostgresJSON(step.data))::jsonb
                FROM app
            ), audit AS (
                INSERT INTO audit_log (tenant_id, actor_kind, actor_id, action, object_kind, object_id, application_id, request_id, details)
                SELECT tenant_id, 'system', NULL, 'application.route', 'application', id::text, id, NULL,
                       \(PostgresJSON(step.data))::jsonb
                FROM app
            ), receipt AS (
                INSERT INTO messages (tenant_id, application_id, direction, kind, postbox_status, subject, body, trust_level, mailbox_id, delivery_state)
                SELECT tenant_id, id, 'outbound', 'status', 'RECEIVED', \(subject), \(body), \(step.trustLevel), \(step.mailbox), 'queued'
                FROM app
                WHERE \(step.mailbox)::uuid IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM messages m WHERE m.tenant_id = app.tenant_id AND m.application_id = app.id
                      AND m.kind = 'status' AND m.postbox_status = 'RECEIVED')
                RETURNING id
            ), members AS (
                SELECT c.id, c.email_notifications
                FROM area_members am JOIN caseworkers c ON c.tenant_id = am.tenant_id AND c.id = am.caseworker_id
                WHERE am.tenant_id = \(step.tenantID) AND am.area_id = \(step.areaID)::uuid AND c.active
            ), email_jobs AS (
                INSERT INTO queue_jobs (queue, tenant_id, payload, max_attempts, dedupe_key)
                SELECT 'notify-email', app.tenant_id,
                       jsonb_build_object('kind', 'new_application', 'application_id', \(app)::text, 'caseworker_id', members.id::text),
                       (SELECT max_attempts FROM queue_definitions WHERE name = 'notify-email'),
                       'new_application/' || \(app)::text || '/' || members.id::text
                FROM app, members WHERE members.email_notifications
                ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
                RETURNING 1
            ), outbox_job AS (
                INSERT INTO queue_jobs (queue, tenant_id, payload, max_attempts, dedupe_key)
                SELECT 'citizen-outbox', \(step.tenantID), jsonb_build_object('message_id', receipt.id::text),
                       (SELECT max_attempts FROM queue_definitions WHERE name = 'citizen-outbox'), 'citizen-outbox:' || receipt.id::text
                FROM receipt
                ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM app)::int AS updated,
                   (SELECT id FROM receipt) AS receipt_id,
                   (SELECT count(*) FROM members)::int AS active_members,
                   coalesce((SELECT array_agg(id ORDER BY id) FROM members WHERE email_notifications), '{}'::uuid[]) AS recipients,
                   (SELECT count(*) FROM email_jobs)::int + (SELECT count(*) FROM outbox_job)::int AS jobs
            """)
        guard try rows[0].decode("updated", as: Int.self) == 1 else {
            // The row is locked by us: this only happens if the status check above was wrong.
            throw RoutingError(code: .invalidTransition, message: "the application changed status while being routed")
        }
        let receipt = try rows[0].decode("receipt_id", as: UUID?.self)
        let recipients = try rows[0].decode("recipients", as: [UUID].self)
        let activeMembers = try rows[0].decode("active_members", as: Int.self)
        if let notifier = queue.notifier, try rows[0].decode("jobs", as: Int.self) > 0 {
            let wakeEmail = !recipients.isEmpty, wakeOutbox = receipt != nil
            transaction.afterCommit {
                if wakeEmail { notifier.wake(.notifyEmail) }
                if wakeOutbox { notifier.wake(.citizenOutbox) }
            }
        }

        let outcome = RoutingOutcome(
            applicationID: step.applicationID, tenantID: step.tenantID, decision: step.decision, areaID: step.areaID, ruleID: step.ruleID,
            activeMembers: activeMembers, notifiedCaseworkers: recipients, receiptMessageID: receipt,
            serviceInactive: step.serviceInactive, previousStatus: step.from
        )
        transaction.afterCommit { [metrics, logger, inboxNotifier] in
            metrics.record(outcome)
            if let area = outcome.areaID {
                inboxNotifier?.wake(area: area, application: outcome.applicationID)
                if outcome.activeMembers == 0 {
                    logger.warning("application assigned to an area without active members: nobody is notified", [
                        "tenant_id": outcome.tenantID.uuidString.lowercased(), "area_id": area.uuidString.lowercased(),
                        "application_id": outcome.applicationID.uuidString.lowercased(),
                    ])
                }
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
