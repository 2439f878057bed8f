import Domain
import FoundationEssentials
import HTTPServer
import JobQueue
import Logging
import Postgres
import Synchronization

/// The filters of `GET /v1/inbox`.
struct InboxFilter: Sendable {
    static let openStatuses: [String] = ["received", "assigned", "in_progress", "awaiting_applicant", "unroutable"]

    var statuses: [String]
    var serviceKey: String?
    var areaID: UUID?
    var claimedByMe: Bool
    var q: String?
    var limit: Int
    var cursor: (micros: Int64, id: UUID)?

    static func parse(_ query: [String: String]) throws -> InboxFilter {
        var errors: [Problem.FieldError] = []
        var statuses = openStatuses
        if let raw = query["status"], !raw.isEmpty {
            statuses = raw.split(separator: ",").map(String.init)
            if statuses.contains(where: { ApplicationStatus(rawValue: $0) == nil }) {
                errors.append(.init(field: "status", code: "invalid-status", message: "must be a comma-separated list of application statuses"))
            }
        }
        var claimedByMe = false
        if let raw = query["claimed_by"], !raw.isEmpty {
            if raw == "me" { claimedByMe = true } else {
                errors.append(.init(field: "claimed_by", code: "invalid", message: "must be 'me'"))
            }
        }
        var q: String?
        if let raw = query["q"], !raw.isEmpty {
            if raw.count > 200 || raw.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                errors.append(.init(field: "q", code: "invalid", message: "must be at most 200 printable characters"))
            } else { q = raw }
        }
        var areaID: UUID?
        if let raw = query["area"], !raw.isEmpty {
            if let id = UUID(uuidString: raw) { areaID = id } else {
                errors.append(.init(field: "area", code: "invalid-uuid", message: "must be a UUID"))
            }
        }
        var limit = 50
        if let raw = query["limit"], !raw.isEmpty {
            if let value = Int(raw), (1...200).contains(value) { limit = value } else {
                errors.append(.init(field: "limit", code: "out-of-range", message: "must be an integer from 1 to 200"))
            }
        }
        var cursor: (Int64, UUID)?
        if let raw = query["cursor"], !raw.isEmpty {
            if let decoded = Cursor.decode(raw) { cursor = decoded } else {
                errors.append(.init(field: "cursor", code: "invalid-cursor", message: "is not a cursor this API issued"))
            }
        }
        var serviceKey: String?
        if let raw = query["service"], !raw.isEmpty {
            if raw.utf8.count <= 64, raw.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) { serviceKey = raw } else {
                errors.append(.init(field: "service", code: "invalid", message: "is not a service key"))
            }
        }
        if !errors.isEmpty { throw HTTPError.validationFailed(errors) }
        return InboxFilter(statuses: statuses, serviceKey: serviceKey, areaID: areaID, claimedByMe: claimedByMe, q: q, limit: limit, cursor: cursor)
    }
}

/// Opaque page cursors: base64url of `<received_at in microseconds since 1970>|<id>` of the last item.
enum Cursor {
    static func encode(micros: Int64, id: String) -> String {
        Base64.urlEncode(Array("\(micros)|\(id)".utf8))
    }

    static func decode(_ text: String) -> (Int64, UUID)? {
        guard text.utf8.count <= 200 else { return nil }
        var standard = text.replacing("-", with: "+").replacing("_", with: "/")
        while standard.utf8.count % 4 != 0 { standard += "=" }
        guard let bytes = Base64.decode(standard), let decoded = String(validating: bytes, as: UTF8.self) else { return nil }
        let parts = decoded.split(separator: "|", maxSplits: 1)
        guard parts.count == 2, let micros = Int64(parts[0]), (0...9_000_000_000_000_000).contains(micros),
              let id = UUID(uuidString: String(parts[1])) else { return nil }
        return (micros, id)
    }
}

/// One page of an inbox, as the JSON body and its entity tag.
struct InboxPage: Sendable {
    var body: [UInt8]
    var etag: ETag
    var count: Int
}

/// Reads inbox pages. The body is built by the database; the entity tag is a hash of it, so
/// a client polling with `If-None-Match` gets 304 exactly when its view has not changed.
struct InboxListing: Sendable {
    let pool: PostgresPool

    func page(_ filter: InboxFilter, principal p: Principal) async throws -> InboxPage {
        let escaped = filter.q.map { q in
            q.replacing("\\", with: "\\\\").replacing("%", with: "\\%").replacing("_", with: "\\_")
        }
        let rows = try await pool.query("""
            SELECT (extract(epoch FROM a.received_at) * 1000000)::bigint AS cursor_time, a.id::text AS cursor_id, json_build_object(
                'id', a.id, 'reference', a.reference, 'status', a.status, 'outcome', a.outcome, 'version', a.version,
                'service', json_build_object('id', s.id, 'key', s.key, 'name', s.name),
                'area', CASE WHEN ra.id IS NULL THEN NULL ELSE json_build_object('id', ra.id, 'name', ra.name) END,
                'claimed_by', CASE WHEN c.id IS NULL THEN NULL ELSE json_build_object('id', c.id, 'name', c.name) END,
                'has_postbox', a.postbox_mailbox_id IS NOT NULL,
                'received_at', a.received_at, 'updated_at', a.updated_at)::text AS item
            FROM applications a
            JOIN services s ON s.tenant_id = a.tenant_id AND s.id = a.service_id
            LEFT JOIN responsibility_areas ra ON ra.tenant_id = a.tenant_id AND ra.id = a.area_id
            LEFT JOIN caseworkers c ON c.tenant_id = a.tenant_id AND c.id = a.claimed_by
            WHERE a.tenant_id = \(p.tenantID)
              AND (\(p.isAdmin)::boolean OR a.area_id = ANY(\(p.areaIDs)::uuid[]))
              AND a.status = ANY(\(filter.statuses)::text[])
              AND (\(filter.serviceKey)::text IS NULL OR s.key = \(filter.serviceKey))
              AND (\(filter.areaID)::uuid IS NULL OR a.area_id = \(filter.areaID))
              AND (NOT \(filter.claimedByMe)::boolean OR a.claimed_by = \(p.id))
              AND (\(filter.q)::text IS NULL OR a.reference = upper(\(filter.q))
                   OR (a.applicant ->> 'name') ILIKE ('%' || \(escaped) || '%'))
              AND (\(filter.cursor?.micros)::bigint IS NULL
                   OR (a.received_at, a.id) < (timestamptz 'epoch' + \(filter.cursor?.micros)::bigint * interval '1 microsecond',
                                               \(filter.cursor?.id)::uuid))
            ORDER BY a.received_at DESC, a.id DESC
            LIMIT \(filter.limit + 1)
            """)
        var body = Array("{\"items\":[".utf8)
        body.reserveCapacity(rows.count * 400 + 64)
        let shown = min(rows.count, filter.limit)
        for index in 0..<shown {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            if let item = try rows[index].rawBytes("item") { body.append(contentsOf: item) }
        }
        body.append(contentsOf: Array("],\"next_cursor\":".utf8))
        if rows.count > filter.limit {
            let last = rows[filter.limit - 1]
            let cursor = Cursor.encode(micros: try last.decode("cursor_time"), id: try last.decode("cursor_id"))
            body.append(contentsOf: Array("\"\(cursor)\"".utf8))
        } else {
            body.append(contentsOf: Array("null".utf8))
        }
        body.append(UInt8(ascii: "}"))
        let digest = SHA256.hash(body)
        var tag = ""
        for byte in digest.prefix(16) {
            tag += String(byte >> 4, radix: 16) + String(byte & 0x0F, radix: 16)
        }
        return InboxPage(body: body, etag: ETag(tag), count: shown)
    }

    /// The channels whose notifications may change this caseworker's view.
    func channels(principal p: Principal) async throws -> Set<String> {
        var areas = p.areaIDs
        if p.isAdmin {
            areas = try await pool.query("SELECT id FROM responsibility_areas WHERE tenant_id = \(p.tenantID)").map { try $0.decode("id") }
        }
        return Set(areas.map { WakeChannel.inbox(area: $0) })
    }
}

/// A one-shot wake-up with a deadline, for one long-poll.
final class LongPollWake: Sendable {
    private struct State {
        var pending = false
        var continuation: CheckedContinuation<Bool, Never>?
        var generation = 0
    }

    private let state = Mutex(State())

    init() {}

    func signal() {
        let continuation = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if let c = state.continuation {
                state.continuation = nil
                return c
            }
            state.pending = true
            return nil
        }
        continuation?.resume(returning: true)
    }

    /// True when signalled (now or before `deadline`), false at the deadline or on cancellation.
    func wait(until deadline: ContinuousClock.Instant) async -> Bool {
        let generation = state.withLock { state -> Int in
            state.generation += 1
            return state.generation
        }
        let timer = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            self.expire(generation)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let resumeNow = state.withLock { state -> Bool? in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    if Task.isCancelled || ContinuousClock.now >= deadline { return false }
                    state.continuation = continuation
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            self.expire(nil)
        }
    }

    private func expire(_ generation: Int?) {
        let continuation = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if let generation, generation != state.generation { return nil }
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: false)
    }
}
