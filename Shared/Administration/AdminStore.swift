import Domain
import FoundationEssentials
import JobQueue
import Postgres

/// Who changes the administration: an operator at the CLI, or an admin caseworker through the
/// admin API (with the request's id). Every audit entry names them.
public struct AdminActor: Sendable, Equatable {
    public var kind: ActorKind
    public var id: UUID?
    public var requestID: String?

    public init(kind: ActorKind, id: UUID? = nil, requestID: String? = nil) {
        self.kind = kind
        self.id = id
        self.requestID = requestID
    }

    public static let `operator` = AdminActor(kind: .operator)

    public static func caseworker(_ id: UUID, requestID: String?) -> AdminActor {
        AdminActor(kind: .caseworker, id: id, requestID: requestID)
    }
}

/// The one write path of the administration (tenants, services, areas and their rules and
/// members, caseworkers and their tokens, intake clients, tenant texts, dead letters) and the
/// reads the CLI and the admin API share. Both call it; it owns the tables' writes and their
/// rules: every input is checked here (rules by routing's own parser), every change writes its
/// audit entry in the same transaction, and every failure is an ``AdminError`` with a stable code.
/// Methods take the tenant they act in; nothing reaches into another tenant.
public struct AdminStore: Sendable {
    public let pool: PostgresPool
    public let actor: AdminActor
    /// For replaying dead letters (its notifier wakes the queues' consumers).
    public let queue: JobQueue

    public init(pool: PostgresPool, actor: AdminActor = .operator, queue: JobQueue? = nil) {
        self.pool = pool
        self.actor = actor
        self.queue = queue ?? JobQueue(pool: pool, notifier: nil)
    }

    /// Runs `body` in a transaction and turns what PostgreSQL refuses into ``AdminError``s.
    func change<T: Sendable>(_ body: (Transaction) async throws -> T) async throws -> T {
        do {
            return try await pool.withTransaction(.init(), body)
        } catch let error as PostgresError {
            throw Self.adminError(error) ?? error
        }
    }

    /// A read; values PostgreSQL cannot take are ``AdminError``s too.
    func read<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PostgresError {
            throw Self.adminError(error) ?? error
        }
    }

    /// Unique, foreign-key and check violations and text PostgreSQL cannot store.
    static func adminError(_ error: PostgresError) -> AdminError? {
        if error.code == .invalidArgument {
            // A text value with U+0000, which PostgreSQL cannot store.
            return .invalid([.init(field: "", code: "invalid-character", message: "text must not contain NUL characters")])
        }
        let constraint = error.constraint ?? "constraint"
        if error.isUniqueViolation {
            return .conflict("already-exists", "Something with this name or key already exists (\(constraint)).")
        }
        switch error.sqlState {
        case "23503":
            return .invalid([.init(field: "", code: "unknown-reference", message: "refers to something that does not exist in this tenant (\(constraint))")])
        case "23514", "22P02", "23502", "22001", "22021", "22P05", "22003", "22008", "22007":
            return .invalid([.init(field: "", code: "invalid", message: "violates \(constraint)")])
        default:
            return nil
        }
    }

    /// The audit entry of a change by this store's actor (ids and counts only in `details`).
    func audit(_ tenant: UUID?, _ action: String, _ kind: String, _ object: String?, _ details: [String: String] = [:]) -> AuditEntry {
        AuditEntry(tenantID: tenant, actorKind: actor.kind, actorID: actor.id, action: action, objectKind: kind,
                   objectID: object, requestID: actor.requestID, details: details)
    }

    func audit(_ tenant: UUID?, _ action: String, _ kind: String, _ object: UUID, _ details: [String: String] = [:]) -> AuditEntry {
        audit(tenant, action, kind, object.lowercased, details)
    }
}

/// Why the store refused: not found, a conflict, or invalid input with one entry per field.
/// `code` is stable (the admin API's problem `code`); `message` is for people.
public struct AdminError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable { case notFound = "not_found", conflict, invalid }

    /// One problem with one input field (`rules[2].definition.values[0]`, `service_keys`).
    public struct FieldError: Sendable, Equatable, CustomStringConvertible {
        public var field: String
        public var code: String
        public var message: String
        public init(field: String, code: String, message: String) {
            self.field = field
            self.code = code
            self.message = message
        }
        public var description: String { field.isEmpty ? message : "\(field): \(message)" }
    }

    public var kind: Kind
    public var code: String
    public var message: String
    public var fieldErrors: [FieldError]

    public init(_ kind: Kind, code: String, message: String, fieldErrors: [FieldError] = []) {
        self.kind = kind
        self.code = code
        self.message = message
        self.fieldErrors = fieldErrors
    }

    /// `what` as in the code: `service`, `intake-client`.
    public static func notFound(_ what: String) -> AdminError {
        AdminError(.notFound, code: "\(what)-not-found", message: "No \(what.replacing("-", with: " ")) with this id in your tenant.")
    }

    public static func conflict(_ code: String, _ message: String) -> AdminError {
        AdminError(.conflict, code: code, message: message)
    }

    public static func invalid(_ errors: [FieldError], message: String = "The request has invalid fields.") -> AdminError {
        AdminError(.invalid, code: "validation-failed", message: message, fieldErrors: errors)
    }

    public static func invalid(_ field: String, _ code: String, _ message: String) -> AdminError {
        .invalid([FieldError(field: field, code: code, message: message)])
    }

    public var description: String {
        fieldErrors.isEmpty ? message : fieldErrors.map(\.description).joined(separator: "; ")
    }
}

/// Throws the field errors, if any.
func require(_ errors: [AdminError.FieldError]) throws(AdminError) {
    if !errors.isEmpty { throw .invalid(errors) }
}

/// Checks shared by several resources.
enum Check {
    static func name(_ name: String?, field: String = "name") -> [AdminError.FieldError] {
        guard let name, name.isEmpty || name.count > 200 else { return [] }
        return [.init(field: field, code: "invalid", message: "must be 1 to 200 characters")]
    }

    static func required(_ values: [(String, Any?)]) -> [AdminError.FieldError] {
        values.compactMap { $0.1 == nil ? .init(field: $0.0, code: "missing", message: "is required") : nil }
    }

    static func digits(_ text: String, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { (48...57).contains($0) }
    }
}


extension KeyedEncodingContainer {
    /// Ids as the API writes them: lowercase; nil as `null`.
    mutating func encodeID(_ id: UUID?, forKey key: Key) throws {
        if let id { try encode(id.lowercased, forKey: key) } else { try encodeNil(forKey: key) }
    }

    mutating func encodeIDs(_ ids: [UUID], forKey key: Key) throws {
        try encode(ids.map(\.lowercased), forKey: key)
    }

    /// `null` rather than a missing member, as the API's documents have always had them.
    mutating func encodeOrNull<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}
