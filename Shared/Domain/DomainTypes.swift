/// Names shared by every service. Raw values are exactly the values the schema's CHECKs allow.

/// States of an application (DESIGN.md "Application lifecycle"); the transitions between them are
/// `ApplicationLifecycle.Transition`'s.
public enum ApplicationStatus: String, Sendable, Codable, CaseIterable {
    case received, assigned
    case inProgress = "in_progress"
    case awaitingApplicant = "awaiting_applicant"
    case completed, withdrawn, unroutable

    /// Open: not completed and not withdrawn.
    public var isOpen: Bool { self != .completed && self != .withdrawn }

    /// Status value of the BundID postbox for this state.
    public var postboxStatus: String {
        switch self {
        case .received, .assigned, .unroutable: "RECEIVED"
        case .inProgress: "PROCESSING"
        case .awaitingApplicant: "ACTION_REQUIRED"
        case .completed, .withdrawn: "COMPLETED"
        }
    }
}

public enum ApplicationOutcome: String, Sendable, Codable, CaseIterable {
    case approved, rejected, done
}

/// Vertrauensniveau, ordered basic < substantial < high.
public enum TrustLevel: String, Sendable, Codable, CaseIterable, Comparable {
    case basic, substantial, high

    /// BundID `stork_qaa_level`.
    public var storkQAALevel: Int {
        switch self {
        case .basic: 1
        case .substantial: 3
        case .high: 4
        }
    }

    private var rank: Int { storkQAALevel }
    public static func < (a: TrustLevel, b: TrustLevel) -> Bool { a.rank < b.rank }
}

public enum MessageDirection: String, Sendable, Codable { case outbound, inbound }

public enum MessageKind: String, Sendable, Codable, CaseIterable {
    case status, question, information, document, decision
    /// Inbound: the applicant's reply.
    case reply
}

public enum DeliveryState: String, Sendable, Codable { case queued, delivered, failed }

public enum CaseworkerRole: String, Sendable, Codable, CaseIterable { case caseworker, admin }

/// Kinds of timeline events (schema CHECK `timeline_events_kind_check`).
public enum TimelineEventKind: String, Sendable, Codable, CaseIterable {
    case received, assigned, unroutable, claimed, released, forwarded
    case statusChanged = "status_changed"
    case awaitingApplicant = "awaiting_applicant"
    case resumed, completed, withdrawn
    case messageSent = "message_sent"
    case messageDelivered = "message_delivered"
    case messageFailed = "message_failed"
    case replyReceived = "reply_received"
    case note
    case attachmentAdded = "attachment_added"
    case personalDataDeleted = "personal_data_deleted"
}

/// Who did something (timeline and audit).
public enum ActorKind: String, Sendable, Codable {
    case system, caseworker, applicant, `operator`
    case intakeClient = "intake_client"
}
