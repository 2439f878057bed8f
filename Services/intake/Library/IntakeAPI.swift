import Domain
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import HTTPServer
import JobQueue
import Logging
import Metrics
import Postgres

/// The intake HTTP API (see openapi.yaml): form systems post applications, read their status,
/// and withdraw them on the applicant's behalf.
public struct IntakeAPI: Sendable {
    let store: IntakeStore
    let authenticator: IntakeClientAuthenticator
    let references: ReferenceAllocator
    let accepted: Counter?

    /// - Parameter keyUse: notes each key's use (`last_used_at`); nil records nothing.
    public init(pool: PostgresPool, queue: JobQueue, referenceBlockSize: Int = 1, authCacheTTL: Duration = .seconds(10),
                keyUse: CredentialUseRecorder? = nil, metrics: MetricsRegistry? = nil) {
        store = IntakeStore(pool: pool, queue: queue)
        authenticator = IntakeClientAuthenticator(pool: pool, cacheTTL: authCacheTTL, lastUse: keyUse)
        references = ReferenceAllocator(pool: pool, blockSize: referenceBlockSize)
        accepted = metrics?.counter("intake_applications_accepted_total", help: "Applications accepted (201, not counting idempotent replays).")
    }

    /// Adds the API's routes to `router`.
    public func register(on router: inout Router) {
        // Every route but the document authenticates from the head, before a body is read.
        let authenticate: RouteAuthenticator = { [authenticator] head in try await authenticator.authenticate(head.headers["Authorization"]) }
        router.post("/v1/applications", bodyLimit: IntakeLimits.maxBodyBytes, authenticate: authenticate) { context in
            try await self.create(context)
        }
        router.get("/v1/applications/:id", authenticate: authenticate) { context in
            let client = try context.principal(as: IntakeClient.self)
            guard let id = UUID(uuidString: try context.parameter("id")),
                  let view = try await self.store.status(id: id, client: client) else { throw Self.notFound }
            return try .json(view, headers: ["Cache-Control": "no-store"])
        }
        router.post("/v1/applications/:id/withdraw", bodyLimit: 64 * 1024, authenticate: authenticate) { context in
            let client = try context.principal(as: IntakeClient.self)
            guard let id = UUID(uuidString: try context.parameter("id")),
                  try await self.store.withdraw(id: id, client: client, requestID: context.requestID),
                  let view = try await self.store.status(id: id, client: client) else { throw Self.notFound }
            return try .json(view, headers: ["Cache-Control": "no-store"])
        }
        router.get("/openapi.yaml") { _ in
            HTTPResponse(status: .ok, headers: ["Content-Type": "application/yaml; charset=utf-8"], body: Array(OpenAPIDocument.yaml.utf8))
        }
    }

    /// Not found, and also the answer for another tenant's application (ids cannot be probed).
    static let notFound = HTTPError(.notFound, code: "application-not-found", detail: "No application with this id for this client.")

    private func create(_ context: RequestContext) async throws -> HTTPResponse {
        let client = try context.principal(as: IntakeClient.self)
        let idempotencyKey = try Self.idempotencyKey(context.request.headers)
        guard JSONCoding.isJSONContentType(context.request.headers["Content-Type"]) else {
            throw HTTPError(.unsupportedMediaType, code: "unsupported-media-type", detail: "Send the body as application/json.")
        }
        let body = context.request.body
        let requestHash = SHA256.hash(body)
        if let idempotencyKey, let earlier = try await store.idempotencyOutcome(key: idempotencyKey, client: client, requestHash: requestHash) {
            return try Self.response(for: earlier)
        }
        let submission = try Self.decode(body).validated(now: Date(), body: body)
        let number = try await references.next(tenant: client.tenantID, year: Self.currentYear())
        let reference = Reference.format(prefix: client.referencePrefix, year: Self.currentYear(), number: number)
        switch try await store.create(submission, client: client, reference: reference, idempotencyKey: idempotencyKey,
                                      requestHash: requestHash, requestID: context.requestID) {
        case .success(let created):
            accepted?.increment()
            return try Self.createdResponse(created, replayed: false)
        case .failure(.idempotency(let outcome)):
            return try Self.response(for: outcome)
        case .failure(.service(let problem)):
            throw problem
        }
    }

    static func response(for outcome: IdempotencyOutcome) throws -> HTTPResponse {
        switch outcome {
        case .replay(let created):
            return try createdResponse(created, replayed: true)
        case .reused:
            throw HTTPError(.unprocessableContent, code: "idempotency-key-reused",
                            detail: "This Idempotency-Key was used with a different request body.")
        }
    }

    static func createdResponse(_ created: CreatedApplication, replayed: Bool) throws -> HTTPResponse {
        var headers: HTTPHeaders = ["Location": "/v1/applications/\(created.id)"]
        if replayed { headers.add(name: "Idempotent-Replayed", value: "true") }
        return try .json(created, status: .created, headers: headers)
    }

    /// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
    static func idempotencyKey(_ headers: HTTPHeaders) throws -> String? {
        let values = headers.values(for: "Idempotency-Key")
        guard let value = values.first else { return nil }
        let valid = values.count == 1 && (1...IntakeLimits.maxIdempotencyKeyLength).contains(value.utf8.count)
            && value.utf8.allSatisfy { (0x21...0x7E).contains($0) }
        guard valid else {
            throw HTTPError(.badRequest, code: "invalid-idempotency-key",
                            detail: "Idempotency-Key must be one header of 1 to 255 visible ASCII characters.")
        }
        return value
    }

    /// Decodes the body without copying it first.
    static func decode(_ body: [UInt8]) throws -> Submission {
        guard !body.isEmpty else { throw HTTPError(.badRequest, code: "invalid-json", detail: "The body is not valid JSON.") }
        do {
            return try body.withUnsafeBytes { raw in
                try JSONCoding.refuseDuplicateNames(raw)
                let decoder = JSONCoding.makeDecoder()
                let locator = AttachmentLocator.locate(raw)
                if let locator {
                    decoder.userInfo[AttachmentRanges.userInfoKey] = AttachmentRanges(locator.ranges, formRange: locator.formRange)
                }
                let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: raw.baseAddress!), count: raw.count, deallocator: .none)
                var submission = try decoder.decode(Submission.self, from: data)
                submission.formRange = locator?.formRange
                return submission
            }
        } catch let error as DecodingError {
            throw JSONCoding.problem(for: error)
        }
    }

    static func currentYear() -> Int {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        return Int(parts.tm_year) + 1900
    }
}
