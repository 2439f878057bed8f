import ApplicationLifecycle
import Domain
import FoundationEssentials
import HTTPServer
import JobQueue
import Postgres
import QueueContracts

/// The answer to a created application; also what an idempotent replay returns.
struct CreatedApplication: Codable, Sendable, Equatable {
    var id: String
    var reference: String
    var status: String
}

/// Public view of an application for the posting system.
struct ApplicationStatusView: Encodable, Sendable {
    struct Event: Encodable, Sendable {
        var kind: String
        var status: String?
        var at: Date
    }

    var id: String
    var reference: String
    var service: String
    var status: String
    var outcome: String?
    var postboxStatus: String
    var submittedAt: Date
    var receivedAt: Date
    var updatedAt: Date
    var timeline: [Event]

    enum CodingKeys: String, CodingKey {
        case id, reference, service, status, outcome, timeline
        case postboxStatus = "postbox_status"
        case submittedAt = "submitted_at"
        case receivedAt = "received_at"
        case updatedAt = "updated_at"
    }
}

/// What a stored idempotency key says about a new request with the same key.
enum IdempotencyOutcome {
    case replay(CreatedApplication)
    case reused
}

/// The intake's SQL. Every write of one request is one transaction.
struct IntakeStore: Sendable {
    let pool: PostgresPool
    let queue: JobQueue

    /// Thrown inside the transaction to roll it back.
    private struct ServiceRejected: Error {}
    private struct KeyTaken: Error {}

    /// Stores the application, its attachments, the `received` timeline event, the audit entry,
    /// the idempotency key and the `route` job in one transaction.
    func create(
        _ submission: ValidSubmission, client: IntakeClient, reference: String,
        idempotencyKey: String?, requestHash: [UInt8], requestID: String
    ) async throws -> Result<CreatedApplication, IdempotencyOutcomeOrServiceError> {
        do {
            let created = try await pool.withTransaction { tx -> CreatedApplication in
                let rows = try await tx.query("""
                    WITH service AS (
                        SELECT s.id FROM services s
                        WHERE s.tenant_id = \(client.tenantID) AND s.key = \(submission.serviceKey) AND s.active
                          AND (\(client.allServices)::boolean OR EXISTS (
                              SELECT 1 FROM intake_client_services cs
                              WHERE cs.tenant_id = s.tenant_id AND cs.intake_client_id = \(client.id) AND cs.service_id = s.id))
                    ), app AS (
                        INSERT INTO applications (tenant_id, service_id, reference, intake_client_id, applicant, form, payment,
                                                  postbox_mailbox_id, postbox_trust_level, document_consent, submitted_at)
                        SELECT \(client.tenantID), service.id, \(reference), \(client.id), \(PostgresRawJSON(submission.applicantJSON))::jsonb,
                               \(PostgresRawJSON(submission.formJSON))::jsonb, \(submission.paymentJSON.map(PostgresRawJSON.init))::jsonb,
                               \(submission.postbox?.mailboxID), \(submission.postbox?.trustLevel.rawValue), \(submission.postbox?.documentConsent ?? false),
                               \(submission.submittedAt)
                        FROM service
                        RETURNING id, tenant_id, service_id
                    ), \(fragment: ApplicationLifecycle.receivedRecords(by: client.id, attachments: submission.files.count, requestID: requestID))
                    SELECT id FROM app
                    """)
                guard let row = rows.first else { throw ServiceRejected() }
                let id = try row.decode("id", as: UUID.self)
                let created = CreatedApplication(id: id.uuidString.lowercased(), reference: reference, status: ApplicationStatus.received.rawValue)
                if let idempotencyKey {
                    let inserted = try await tx.query("""
                        INSERT INTO intake_idempotency_keys (tenant_id, intake_client_id, key, request_hash, application_id, response_status, response_body)
                        VALUES (\(client.tenantID), \(client.id), \(idempotencyKey), \(Bytea(requestHash)), \(id), 201, \(PostgresJSON(created)))
                        ON CONFLICT (tenant_id, intake_client_id, key) DO UPDATE
                            SET request_hash = EXCLUDED.request_hash, application_id = EXCLUDED.application_id,
                                response_status = EXCLUDED.response_status, response_body = EXCLUDED.response_body,
                                created_at = now(), expires_at = now() + interval '24 hours'
                            WHERE intake_idempotency_keys.expires_at <= now()  -- an expired key, not yet pruned, is free
                        RETURNING 1 AS inserted
                        """)
                    if inserted.isEmpty { throw KeyTaken() }
                }
                for (position, file) in submission.files.enumerated() {
                    try await insertAttachment(file, position: position, application: id, tenant: client.tenantID, body: submission.body, in: tx)
                }
                try await queue.enqueue(try NewJob(RouteJob(applicationID: id), tenantID: client.tenantID), in: tx)
                return created
            }
            return .success(created)
        } catch let error as PostgresError where ["22P02", "22P05", "22025", "54000"].contains(error.sqlState ?? "") {
            // The database refused the form's JSON text (e.g. a lone surrogate escape).
            _ = error
            return .failure(.service(.validationFailed([.init(field: "form", code: "invalid", message: "is not JSON the database can store")])))
        } catch is ServiceRejected {
            return .failure(.service(try await serviceProblem(submission.serviceKey, client: client)))
        } catch is KeyTaken {
            // The key committed by a concurrent request with the same key (we waited for it).
            guard let outcome = try await idempotencyOutcome(key: idempotencyKey!, client: client, requestHash: requestHash) else {
                throw HTTPError(.conflict, code: "idempotency-key-in-use", detail: "A request with this Idempotency-Key is being processed; retry.")
            }
            return .failure(.idempotency(outcome))
        }
    }

    /// Largest attachment sent to the database in one parameter; bigger ones go in chunks.
    static let chunkSize = 1 << 20

    /// Stores one attachment. Content from the body is decoded and sent in chunks of 1 MiB into
    /// a temporary table and joined by the server, so the service never holds it whole.
    private func insertAttachment(_ file: ValidSubmission.File, position: Int, application: UUID, tenant: UUID, body: [UInt8], in tx: Transaction) async throws {
        var content: [UInt8]?
        var reader: Base64ChunkReader?
        switch file.source {
        case .bytes(let bytes): content = bytes
        case .body(let range):
            var chunks = Base64ChunkReader(body: body, range: range, chunkSize: Self.chunkSize)
            if file.size <= Self.chunkSize {
                var all: [UInt8] = []
                while let chunk = chunks.next() { all += chunk }
                guard !chunks.failed else {
                    throw PostgresError(code: .invalidArgument, message: "attachment content changed between validation and storage")
                }
                content = all
            } else {
                reader = chunks
            }
        }
        if let content {
            guard content.count == file.size else {
                throw PostgresError(code: .invalidArgument, message: "attachment content changed between validation and storage")
            }
            try await tx.query("""
                INSERT INTO attachments (tenant_id, application_id, origin, position, filename, content_type, size_bytes, sha256, content)
                VALUES (\(tenant), \(application), 'applicant', \(position), \(file.filename), \(file.contentType), \(content.count),
                        \(Bytea(file.sha256)), \(Bytea(content)))
                """)
            return
        }
        guard var reader else { preconditionFailure("either content or a reader") }
        try await tx.query("CREATE TEMPORARY TABLE IF NOT EXISTS intake_attachment_chunks (n integer NOT NULL, data bytea NOT NULL) ON COMMIT DELETE ROWS")
        try await tx.query("DELETE FROM intake_attachment_chunks")
        var n = 0
        while let chunk = reader.next() {
            try await tx.query("INSERT INTO intake_attachment_chunks (n, data) VALUES (\(n), \(Bytea(chunk)))")
            n += 1
        }
        guard !reader.failed else { throw PostgresError(code: .invalidArgument, message: "attachment content changed between validation and storage") }
        // The size CHECK (octet_length(content) = size_bytes) and the hash recomputed here make
        // sure what the server joined is exactly what was validated.
        let inserted = try await tx.query("""
            INSERT INTO attachments (tenant_id, application_id, origin, position, filename, content_type, size_bytes, sha256, content)
            SELECT \(tenant), \(application), 'applicant', \(position), \(file.filename), \(file.contentType), \(file.size),
                   \(Bytea(file.sha256)), joined.content
            FROM (SELECT string_agg(data, ''::bytea ORDER BY n) AS content FROM intake_attachment_chunks) joined
            WHERE sha256(joined.content) = \(Bytea(file.sha256))
            """)
        guard inserted.affectedRows == 1 else {
            throw PostgresError(code: .invalidArgument, message: "joined attachment does not match its checksum")
        }
    }

    enum IdempotencyOutcomeOrServiceError: Error {
        case idempotency(IdempotencyOutcome)
        case service(HTTPError)
    }

    /// What an earlier request with this key decides, or nil when the key is new (or expired).
    func idempotencyOutcome(key: String, client: IntakeClient, requestHash: [UInt8]) async throws -> IdempotencyOutcome? {
        let rows = try await pool.query("""
            SELECT request_hash, response_body FROM intake_idempotency_keys
            WHERE tenant_id = \(client.tenantID) AND intake_client_id = \(client.id) AND key = \(key) AND expires_at > now()
            """)
        guard let row = rows.first else { return nil }
        let storedHash = [UInt8](try row.decode("request_hash", as: Data.self))
        guard storedHash == requestHash else { return .reused }
        return .replay(try row.decodeJSON("response_body", as: CreatedApplication.self))
    }

    /// Why the service of a submission was refused: unknown, inactive, or not for this client.
    private func serviceProblem(_ key: String, client: IntakeClient) async throws -> HTTPError {
        let rows = try await pool.query("""
            SELECT s.active,
                   (\(client.allServices)::boolean OR EXISTS (SELECT 1 FROM intake_client_services cs
                        WHERE cs.tenant_id = s.tenant_id AND cs.intake_client_id = \(client.id) AND cs.service_id = s.id)) AS allowed
            FROM services s WHERE s.tenant_id = \(client.tenantID) AND s.key = \(key)
            """)
        guard let row = rows.first else {
            return .validationFailed([.init(field: "service", code: "unknown-service", message: "is not a service of this tenant")])
        }
        if !(try row.decode("active", as: Bool.self)) {
            return .validationFailed([.init(field: "service", code: "inactive-service", message: "is not accepting applications")])
        }
        if !(try row.decode("allowed", as: Bool.self)) {
            return .validationFailed([.init(field: "service", code: "service-not-allowed", message: "is not allowed for this intake client")])
        }
        // Changed between the insert and this check; the client may retry.
        return HTTPError(.conflict, code: "service-changed", detail: "The service changed while the request was processed; retry.")
    }

    /// The public status of an application of the client's tenant, or nil.
    func status(id: UUID, client: IntakeClient) async throws -> ApplicationStatusView? {
        let rows = try await pool.query("""
            SELECT a.id, a.reference, s.key AS service, a.status, a.outcome, a.submitted_at, a.received_at, a.updated_at
            FROM applications a JOIN services s ON s.tenant_id = a.tenant_id AND s.id = a.service_id
            WHERE \(fragment: ApplicationState.scopeFilter(client.scope, id: id))
            """)
        guard let row = rows.first else { return nil }
        let events = try await pool.query("""
            SELECT kind, to_status, created_at FROM timeline_events
            WHERE tenant_id = \(client.tenantID) AND application_id = \(id) AND visibility = 'public'
            ORDER BY id
            """)
        let status = ApplicationStatus(rawValue: try row.decode("status")) ?? .received
        return ApplicationStatusView(
            id: id.uuidString.lowercased(), reference: try row.decode("reference"), service: try row.decode("service"),
            status: status.rawValue, outcome: try row.decode("outcome", as: String?.self), postboxStatus: status.postboxStatus,
            submittedAt: try row.decode("submitted_at"), receivedAt: try row.decode("received_at"), updatedAt: try row.decode("updated_at"),
            timeline: try events.map { ApplicationStatusView.Event(kind: try $0.decode("kind"), status: try $0.decode("to_status", as: String?.self), at: try $0.decode("created_at")) }
        )
    }

    /// Withdraws an open application the client may see. false when there is none; a 409 when
    /// it is no longer open.
    func withdraw(id: UUID, client: IntakeClient, requestID: String) async throws -> Bool {
        do {
            try await pool.withTransaction { tx in
                try await ApplicationLifecycle(queue: queue).apply(
                    .withdraw, application: id, scope: client.scope, actor: .intakeClient(id: client.id), expectedVersion: nil,
                    requestID: requestID, in: tx)
            }
            return true
        } catch let error as LifecycleError where error.code == .notFound {
            return false
        } catch let error as LifecycleError {
            let state = error.currentState?.rawValue ?? ""
            throw HTTPError(.conflict, code: error.code.rawValue, detail: "The application is \(state) and can no longer be withdrawn.",
                            extensions: ["current_state": state])
        }
    }
}

extension IntakeClient {
    /// What the client sees: its tenant's applications, of its services when it is bound to some.
    var scope: Scope { Scope(tenantID: tenantID, boundIntakeClient: allServices ? nil : id) }
}
