import FoundationEssentials
import HTTPServer
import Servicekonto
import Synchronization

/// The citizen-postbox sandbox: the adapter contract (`POST /messages`, `POST /status`,
/// `GET /replies`), its token endpoint (`POST /oauth/token`), and inspection and control routes
/// under `/sandbox/` for people and tests. State is in memory (``SandboxStore``).
public final class Sandbox: Sendable {
    public let store = SandboxStore()
    public let configuration: SandboxConfiguration
    private let faultSettings: Mutex<FaultInjection>

    public init(configuration: SandboxConfiguration) {
        self.configuration = configuration
        faultSettings = Mutex(configuration.faults)
    }

    public var faults: FaultInjection {
        get { faultSettings.withLock { $0 } }
        set { faultSettings.withLock { $0 = newValue } }
    }

    public func register(on router: inout Router) {
        let bodyLimit = 64 << 20
        router.post("/oauth/token") { [self] context in try token(context) }
        router.post("/messages", bodyLimit: bodyLimit) { [self] context in
            try await contractCall(context) { [self] in
                let message = try decode(PostboxMessage.self, context)
                try validate(message)
                return store.store(message: message)
            }
        }
        router.post("/status") { [self] context in
            try await contractCall(context) { [self] in
                let status = try decode(PostboxStatusUpdate.self, context)
                guard UUID(uuidString: status.mailboxUuid) != nil, !status.id.isEmpty, status.id.count <= 200 else {
                    throw HTTPError(.badRequest, code: "invalid-status", detail: "id and mailboxUuid (a UUID) are required.")
                }
                return store.store(status: status)
            }
        }
        router.get("/replies") { [self] context in
            try authorize(context)
            if let fault = try await injectFault(context) { return fault }
            let query = context.request.queryParameters
            let limit = min(max(Int(query["limit"] ?? "100") ?? 100, 1), PostboxLimits.maxRepliesPerPage)
            guard let page = store.replies(after: query["after"], limit: limit) else {
                throw HTTPError(.badRequest, code: "invalid-cursor", detail: "The cursor is not one this postbox issued.")
            }
            return try json(page)
        }

        // Inspection and control (sandbox only).
        router.get("/sandbox/mailboxes/:id") { [self] context in
            let id = try context.parameter("id")
            guard let box = store.mailbox(id) else { throw HTTPError.notFound(code: "mailbox-not-found", detail: "Nothing was delivered to this mailbox.") }
            return try json(box)
        }
        router.post("/sandbox/mailboxes/:id/replies", bodyLimit: bodyLimit) { [self] context in
            let id = try context.parameter("id")
            struct NewReply: Decodable { var inReplyTo: String?; var text: String; var attachments: [PostboxAttachment]? }
            let body = try decode(NewReply.self, context)
            guard !body.text.isEmpty, body.text.count <= PostboxLimits.maxReplyTextLength else {
                throw HTTPError(.badRequest, code: "invalid-reply", detail: "text must be 1 to \(PostboxLimits.maxReplyTextLength) characters.")
            }
            return try json(store.addReply(mailbox: id, inReplyTo: body.inReplyTo, text: body.text, attachments: body.attachments), status: .created)
        }
        router.post("/sandbox/mailboxes/:id/close") { [self] context in
            store.close(mailbox: try context.parameter("id"))
            return HTTPResponse(status: .noContent)
        }
        router.get("/sandbox/stats") { [self] _ in try json(store.statistics) }
        router.get("/sandbox/journal") { [self] context in
            let query = context.request.queryParameters
            guard let after = Int(query["after"] ?? "0"), after >= 0, let limit = Int(query["limit"] ?? "1000"), (1...10_000).contains(limit) else {
                throw HTTPError(.badRequest, code: "invalid-page", detail: "after must be a sequence number ≥ 0 and limit 1 to 10000.")
            }
            return try json(store.journal(after: after, limit: limit))
        }
        router.get("/sandbox/faults") { [self] _ in try json(faults) }
        router.put("/sandbox/faults") { [self] context in
            let settings = try decode(FaultInjection.self, context)
            guard settings.isValid else { throw HTTPError(.badRequest, code: "invalid-faults", detail: "Rates are shares 0…1; 500, 429 and drop rates add up to at most 1.") }
            faults = settings
            return try json(settings)
        }
        router.post("/sandbox/tokens/revoke") { [self] _ in
            struct Revoked: Encodable { var revoked: Int }
            return try json(Revoked(revoked: store.revokeTokens()))
        }
    }

    // MARK: Contract helpers

    private func contractCall(_ context: RequestContext, _ body: @Sendable () throws -> SandboxStore.StoreOutcome) async throws -> HTTPResponse {
        try authorize(context)
        let drop = faults.dropRate > 0 && Double.random(in: 0..<1) < faults.dropRate
        if !drop, let fault = try await injectFault(context) { return fault }
        // Half the dropped connections are cut before anything is stored, half after.
        if drop && Bool.random() { return droppedConnection() }
        let outcome = try body()
        let response: HTTPResponse
        switch outcome {
        case .stored(let receipt): response = try json(receipt, status: .created)
        case .duplicate(let receipt): response = try json(receipt)
        case .closed: throw HTTPError(.badRequest, code: "mailbox-closed", detail: "The mailbox is closed and accepts no messages.")
        }
        if drop { return droppedConnection() }
        return response
    }

    /// Draws the request's fault: 500, 429 or a slow answer (nil: answer normally).
    private func injectFault(_ context: RequestContext) async throws -> HTTPResponse? {
        let settings = faults
        let draw = Double.random(in: 0..<1)
        if draw < settings.serverErrorRate {
            store.count { $0.serverErrors += 1 }
            throw HTTPError(.internalServerError, code: "injected-fault", detail: "Injected server error.")
        }
        if draw < settings.serverErrorRate + settings.rateLimitRate {
            store.count { $0.rateLimited += 1 }
            throw HTTPError(.tooManyRequests, code: "rate-limited", detail: "Injected rate limit.",
                            headers: ["Retry-After": String(settings.retryAfterSeconds)])
        }
        if settings.slowRate > 0 && Double.random(in: 0..<1) < settings.slowRate {
            store.count { $0.slow += 1 }
            try await Task.sleep(for: .milliseconds(settings.slowMilliseconds))
        }
        return nil
    }

    /// Status line and headers promise a body that never comes: the server cuts the connection.
    private func droppedConnection() -> HTTPResponse {
        store.count { $0.dropped += 1 }
        return HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], stream: HTTPBodyStream(contentLength: 64) { _ in
            struct Dropped: Error {}
            throw Dropped()
        })
    }

    private func authorize(_ context: RequestContext) throws {
        guard configuration.requireAuth else { return }
        let header = context.request.headers["Authorization"] ?? ""
        guard header.hasPrefix("Bearer "), store.isValid(token: String(header.dropFirst(7))) else {
            store.count { $0.unauthorized += 1 }
            throw HTTPError(.unauthorized, code: "invalid-token", detail: "A valid bearer token is required.",
                            headers: ["WWW-Authenticate": "Bearer error=\"invalid_token\""])
        }
    }

    private func token(_ context: RequestContext) throws -> HTTPResponse {
        struct OAuthError: Encodable { var error: String }
        let form = Self.parseForm(context.request.body)
        guard form["grant_type"] == "client_credentials" else {
            return try json(OAuthError(error: "unsupported_grant_type"), status: .badRequest)
        }
        var clientID = form["client_id"]
        var secret = form["client_secret"]
        if let header = context.request.headers["Authorization"], header.hasPrefix("Basic "),
           let decoded = Data(base64Encoded: String(header.dropFirst(6))), let text = String(data: decoded, encoding: .utf8),
           let colon = text.firstIndex(of: ":") {
            clientID = PercentDecoding.decode(text[..<colon], plusAsSpace: true)
            secret = PercentDecoding.decode(text[text.index(after: colon)...], plusAsSpace: true)
        }
        guard clientID != nil, secret != nil,
              configuration.clientID.map({ $0 == clientID }) ?? true,
              configuration.clientSecret.map({ $0 == secret }) ?? true
        else {
            return try json(OAuthError(error: "invalid_client"), status: .unauthorized)
        }
        struct TokenResponse: Encodable { var access_token: String; var token_type: String; var expires_in: Int }
        let lifetime = configuration.tokenLifetime
        let seconds = max(1, Int(lifetime.components.seconds))
        return try json(TokenResponse(access_token: store.issueToken(lifetime: lifetime), token_type: "Bearer", expires_in: seconds))
    }

    private func validate(_ message: PostboxMessage) throws {
        var problems: [String] = []
        if message.id.isEmpty || message.id.count > 200 { problems.append("id must be 1 to 200 characters") }
        if UUID(uuidString: message.mailboxUuid) == nil { problems.append("mailboxUuid must be a UUID") }
        if message.title.isEmpty || message.title.count > PostboxLimits.maxTitleLength { problems.append("title must be 1 to \(PostboxLimits.maxTitleLength) characters") }
        if message.content.count > PostboxLimits.maxContentLength { problems.append("content is too long") }
        if ![1, 3, 4].contains(message.stork_qaa_level) { problems.append("stork_qaa_level must be 1, 3 or 4") }
        for attachment in message.attachments ?? [] {
            guard let bytes = Data(base64Encoded: attachment.content) else { problems.append("attachment \(attachment.filename): content is not base64"); continue }
            if bytes.count != attachment.contentLength { problems.append("attachment \(attachment.filename): contentLength does not match") }
            if SHA512.hex(Array(bytes)) != attachment.sha512sum { problems.append("attachment \(attachment.filename): sha512sum does not match") }
        }
        if (message.attachments?.count ?? 0) > PostboxLimits.maxAttachments { problems.append("too many attachments") }
        guard problems.isEmpty else {
            throw HTTPError(.badRequest, code: "invalid-message", detail: problems.joined(separator: "; "))
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ context: RequestContext) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(context.request.body)) } catch {
            throw HTTPError(.badRequest, code: "invalid-json", detail: "The body is not the expected JSON: \(error)")
        }
    }

    private func json<T: Encodable>(_ value: T, status: HTTPStatus = .ok) throws -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: Array(try encoder.encode(value)))
    }

    static func parseForm(_ body: [UInt8]) -> [String: String] {
        var result: [String: String] = [:]
        let text = String(decoding: body, as: UTF8.self)
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PercentDecoding.decode(parts[0], plusAsSpace: true) else { continue }
            result[name] = parts.count > 1 ? PercentDecoding.decode(parts[1], plusAsSpace: true) : ""
        }
        return result
    }
}
