import ApplicationLifecycle
import Domain
import FoundationEssentials
import HTTPServer
import JobQueue
import Logging
import Postgres

/// The caseworkers' API: who am I, the inbox (filters, cursor pages, ETag/304, long-poll), an
/// application with its attachments (audited reads), claim, release, forward, status, messages
/// to the applicant and internal notes.
struct CaseworkerAPI: Sendable {
    let pool: PostgresPool
    let authentication: CaseworkerAuthentication
    let store: ApplicationStore
    let listing: InboxListing
    let listener: PostgresListener?
    /// Longest `wait` a long-poll may ask for.
    static let maxWaitSeconds = 60
    /// Longest this service actually holds a long-poll (`LONG_POLL_MAX_SECONDS`); longer waits are cut to it.
    var longPollLimitSeconds = 60

    /// The caller, found from the request's token by the route's authenticator.
    func principal(_ context: RequestContext) async throws -> Principal {
        try context.principal(as: Principal.self)
    }

    func register(on router: inout Router) {
        // Every route authenticates from the head, before a body is read.
        let authenticate = authentication.caseworker
        router.get("/v1/me", authenticate: authenticate) { context in
            let p = try await self.principal(context)
            return try await self.me(p)
        }
        router.get("/v1/inbox", authenticate: authenticate) { context in
            let p = try await self.principal(context)
            return try await self.inbox(context, p)
        }
        router.get("/v1/applications/:id", authenticate: authenticate) { context in
            let p = try await self.principal(context)
            let id = try API.uuid(context, "id", notFound: ApplicationStore.notFound)
            guard let detail = try await self.store.detail(id: id, principal: p, requestID: context.requestID) else {
                throw ApplicationStore.notFound
            }
            return API.rawJSON(detail.json, headers: ["ETag": "\"\(detail.version)\""])
        }
        router.get("/v1/applications/:id/attachments/:aid", authenticate: authenticate) { context in
            let p = try await self.principal(context)
            let notFound = HTTPError(.notFound, code: "attachment-not-found", detail: "No such attachment of an application in your inbox.")
            let id = try API.uuid(context, "id", notFound: notFound)
            let aid = try API.uuid(context, "aid", notFound: notFound)
            guard let file = try await self.store.attachment(id: id, attachmentID: aid, principal: p, requestID: context.requestID) else {
                throw notFound
            }
            guard let content = file.content else {
                throw HTTPError(.gone, code: "attachment-deleted", detail: "The attachment was deleted after the retention period.")
            }
            return HTTPResponse(status: .ok, headers: [
                "Content-Type": file.contentType,
                "Content-Disposition": Self.contentDisposition(file.filename),
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                // Opened in a browser, the file runs no script and loads nothing.
                "Content-Security-Policy": "sandbox; default-src 'none'",
            ], body: Array(content))
        }
        router.post("/v1/applications/:id/claim", bodyLimit: 64 * 1024, authenticate: authenticate) { context in
            let p = try await self.principal(context)
            return try await self.claim(context, p)
        }
        router.post("/v1/applications/:id/release", bodyLimit: 64 * 1024, authenticate: authenticate) { context in
            let p = try await self.principal(context)
            return try await self.release(context, p)
        }
        router.post("/v1/applications/:id/forward", bodyLimit: 64 * 1024, authenticate: authenticate) { context in
            let p = try await self.principal(context)
            return try await self.forward(context, p)
        }
        router.post("/v1/applications/:id/status", bodyLimit: 64 * 1024, authenticate: authenticate) { context in
            let p = try await self.principal(context)
            return try await self.changeStatus(context, p)
        }
        router.post("/v1/applications/:id/messages", bodyLimit: MessageLimits.maxBodyBytes, authenticate: authenticate) { context in
            let p = try await self.principal(context)
            return try await self.sendMessage(context, p)
        }
        router.post("/v1/applications/:id/notes", bodyLimit: 64 * 1024, authenticate: authenticate) { context in
            let p = try await self.principal(context)
            return try await self.addNote(context, p)
        }
    }

    // MARK: Me

    func me(_ p: Principal) async throws -> HTTPResponse {
        let rows = try await pool.query("""
            SELECT json_build_object(
                'id', c.id, 'name', c.name, 'email', c.email, 'roles', c.roles, 'email_notifications', c.email_notifications,
                'tenant', json_build_object('id', t.id, 'slug', t.slug, 'name', t.name),
                'areas', coalesce((SELECT json_agg(json_build_object('id', ra.id, 'name', ra.name, 'service_id', ra.service_id) ORDER BY ra.name, ra.id)
                    FROM responsibility_areas ra WHERE ra.tenant_id = c.tenant_id AND ra.id = ANY(\(p.areaIDs)::uuid[])), '[]'::json)
            )::text AS document
            FROM caseworkers c JOIN tenants t ON t.id = c.tenant_id
            WHERE c.tenant_id = \(p.tenantID) AND c.id = \(p.id)
            """)
        guard let row = rows.first else { throw Principal.unauthorized }
        return API.rawJSON(try row.decode("document", as: String.self))
    }

    // MARK: Inbox

    func inbox(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let query = context.request.queryParameters
        let filter = try InboxFilter.parse(query)
        let wait = try API.queryInt(query["wait"], name: "wait", default: 0, range: 0...Self.maxWaitSeconds)
        if filter.q != nil {
            // A search by name reveals whose applications exist: audited like a read.
            try await Audit.record(p.audit("inbox.search", "inbox", nil, requestID: context.requestID), pool: pool)
        }
        guard wait > 0, let listener, context.request.headers.contains("If-None-Match") else {
            let page = try await listing.page(filter, principal: p)
            return respond(page, context)
        }
        // Long-poll: subscribe first, then read, so a change between the two is not missed.
        let deadline = ContinuousClock.now + .seconds(min(wait, longPollLimitSeconds))
        let channels = try await listing.channels(principal: p)
        let wake = LongPollWake()
        let stream = try await listener.subscribe(to: channels)
        let consumer = Task {
            for await _ in stream { wake.signal() }
        }
        defer { consumer.cancel() }
        while true {
            let page = try await listing.page(filter, principal: p)
            if !context.request.isNotModified(current: page.etag) { return respond(page, context) }
            guard await wake.wait(until: deadline) else { return .notModified(etag: page.etag) }
            try Task.checkCancellation()
        }
    }

    private func respond(_ page: InboxPage, _ context: RequestContext) -> HTTPResponse {
        if context.request.isNotModified(current: page.etag) {
            var response = HTTPResponse.notModified(etag: page.etag)
            response.headers.add(name: "Cache-Control", value: "private, no-cache")
            return response
        }
        return API.rawJSON(page.body, headers: ["ETag": page.etag.headerValue, "Cache-Control": "private, no-cache"])
    }

    // MARK: Claim, release, forward, status

    /// One transition of the lifecycle, in a transaction of its own, answered with the summary.
    private func run(_ transition: Transition, _ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let id = try API.uuid(context, "id", notFound: ApplicationStore.notFound)
        let version = try API.requiredVersion(context.request)
        let outcome = try await store.change { tx in
            try await store.lifecycle.apply(transition, application: id, scope: p.scope, actor: p.actor, expectedVersion: version,
                                            requestID: context.requestID, in: tx)
        }
        return try Self.summaryResponse(outcome.summary)
    }

    func claim(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        try await run(.claim, context, p)
    }

    func release(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        try await run(.release, context, p)
    }

    struct ForwardBody: Decodable, Validatable {
        var areaID: UUID
        var note: String?
        enum CodingKeys: String, CodingKey {
            case areaID = "area_id"
            case note
        }
        func validate() -> [Problem.FieldError] {
            guard let note else { return [] }
            return NoteBody.check(note, field: "note")
        }
    }

    func forward(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let id = try API.uuid(context, "id", notFound: ApplicationStore.notFound)
        let body = try context.decodeJSON(ForwardBody.self)
        let version = try API.requiredVersion(context.request)
        let outcome = try await store.change { tx in
            guard let state = try await store.lifecycle.lock(id, scope: p.scope, in: tx) else { throw ApplicationStore.notFound }
            var data = ["to_area_id": body.areaID.lowercased]
            if let old = state.areaID { data["from_area_id"] = old.lowercased }
            if let note = body.note {
                data["note_id"] = try await store.lifecycle.addNote(note, on: state, by: p.id, audited: nil, in: tx).lowercased
            }
            return try await store.lifecycle.apply(.forward, application: id, scope: p.scope, actor: p.actor, expectedVersion: version,
                                                   area: .some(body.areaID), data: data, requestID: context.requestID, in: tx)
        }
        return try Self.summaryResponse(outcome.summary)
    }

    struct StatusBody: Decodable, Validatable {
        var status: String
        var outcome: String?
        var note: String?
        func validate() -> [Problem.FieldError] {
            var errors: [Problem.FieldError] = []
            if ApplicationStatus(rawValue: status).flatMap(Transition.statusChange(to:)) == nil {
                errors.append(.init(field: "status", code: "invalid-status", message: "must be in_progress, awaiting_applicant or completed"))
            }
            if status == ApplicationStatus.completed.rawValue {
                if outcome.flatMap(ApplicationOutcome.init(rawValue:)) == nil {
                    errors.append(.init(field: "outcome", code: "invalid-outcome", message: "must be approved, rejected or done when completing"))
                }
            } else if outcome != nil {
                errors.append(.init(field: "outcome", code: "not-allowed", message: "is only given when completing"))
            }
            if let note { errors += NoteBody.check(note, field: "note") }
            return errors
        }
    }

    func changeStatus(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let id = try API.uuid(context, "id", notFound: ApplicationStore.notFound)
        let body = try context.decodeJSON(StatusBody.self)
        let target = ApplicationStatus(rawValue: body.status)!
        let version = try API.requiredVersion(context.request)
        let outcome = try await store.change { tx in
            var data: [String: String] = [:]
            if let note = body.note {
                guard let state = try await store.lifecycle.lock(id, scope: p.scope, in: tx) else { throw ApplicationStore.notFound }
                data["note_id"] = try await store.lifecycle.addNote(note, on: state, by: p.id, audited: nil, in: tx).lowercased
            }
            return try await store.lifecycle.apply(
                Transition.statusChange(to: target)!, to: target, application: id, scope: p.scope, actor: p.actor,
                expectedVersion: version, outcome: body.outcome.flatMap(ApplicationOutcome.init(rawValue:)), data: data,
                requestID: context.requestID, in: tx)
        }
        return try Self.summaryResponse(outcome.summary)
    }

    // MARK: Messages and notes

    func sendMessage(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let id = try API.uuid(context, "id", notFound: ApplicationStore.notFound)
        let body = try context.decodeJSON(MessageBody.self)
        let version = try API.requiredVersion(context.request)
        let result = try await store.write(id: id, principal: p) { tx, state in
            try await MessageSender(lifecycle: store.lifecycle).send(body, on: state, version: version, principal: p,
                                                                    requestID: context.requestID, in: tx)
        }
        return try .json(result, status: .created, headers: [
            "ETag": "\"\(result.application.version)\"", "Cache-Control": "no-store",
            "Location": "/v1/applications/\(id.lowercased)",
        ])
    }

    func addNote(_ context: RequestContext, _ p: Principal) async throws -> HTTPResponse {
        let id = try API.uuid(context, "id", notFound: ApplicationStore.notFound)
        let body = try context.decodeJSON(NoteBody.self)
        let version = try API.requiredVersion(context.request)
        let (noteID, summary) = try await store.write(id: id, principal: p) { tx, state in
            try ApplicationLifecycle.requireVersion(state, version)
            guard !state.personalDataDeleted else {
                throw LifecycleError(.personalDataDeleted, "The application's data was deleted after retention.", state: state.status)
            }
            let noteID = try await store.lifecycle.addNote(body.body, on: state, by: p.id, audited: context.requestID, in: tx)
            return (noteID, try await store.lifecycle.touch(state, in: tx))
        }
        return try .json(["id": noteID.lowercased], status: .created, headers: ["ETag": summary.etag, "Cache-Control": "no-store"])
    }

    // MARK: Helpers

    static func summaryResponse(_ summary: ApplicationSummary) throws -> HTTPResponse {
        try .json(summary, headers: ["ETag": summary.etag, "Cache-Control": "no-store"])
    }

    /// `attachment; filename="…"; filename*=UTF-8''…` with an ASCII fallback name.
    static func contentDisposition(_ filename: String) -> String {
        var ascii = ""
        var encoded = ""
        for byte in filename.utf8 {
            let isSafe = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            if isSafe {
                ascii.append(Character(UnicodeScalar(byte)))
                encoded.append(Character(UnicodeScalar(byte)))
            } else {
                if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                    ascii.append(Character(UnicodeScalar(byte)))
                } else if byte < 0x80 || (byte & 0xC0) == 0xC0 {
                    ascii.append("_")
                }
                let hex = String(byte, radix: 16, uppercase: true)
                encoded += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }
}

/// The body of `POST /v1/applications/{id}/notes`.
struct NoteBody: Decodable, Validatable {
    var body: String

    func validate() -> [Problem.FieldError] { Self.check(body, field: "body") }

    static func check(_ text: String, field: String) -> [Problem.FieldError] {
        if text.unicodeScalars.allSatisfy(\.properties.isWhitespace) { return [.init(field: field, code: "blank", message: "must not be blank")] }
        if text.count > 10_000 { return [.init(field: field, code: "too-long", message: "must be at most 10000 characters")] }
        if text.unicodeScalars.contains(where: { $0.value == 0 }) { return [.init(field: field, code: "invalid", message: "must not contain NUL")] }
        return []
    }
}
