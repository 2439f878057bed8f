import Administration
import Domain
import Foundation
import HTTPServer
@testable import IntakeService
import JobQueue
import Logging
import Postgres
import TestSupport

/// An intake API on a fresh database with two tenants, driven in-process through its router.
struct IntakeHarness {
    let db: TestDatabase
    let router: Router
    let keyA: String
    let keyB: String
    let restrictedKeyA: String
    let tenantA: UUID
    let tenantB: UUID

    static func make(maxConnections: Int = 12, referenceBlockSize: Int = 1) async throws -> IntakeHarness {
        let db = try await TestDatabase.make(maxConnections: maxConnections)
        let admin = AdminStore(pool: db.pool)
        let a = try await admin.createTenant(slug: "erkelenz", name: "Stadt Erkelenz", referencePrefix: "ERK")
        let b = try await admin.createTenant(slug: "heinsberg", name: "Kreis Heinsberg", referencePrefix: "HS")
        _ = try await admin.createService(tenant: a.id, key: "parking", name: "Anwohnerparkausweis")
        _ = try await admin.createService(tenant: a.id, key: "dogs", name: "Hundesteuer")
        _ = try await admin.createService(tenant: a.id, key: "closed", name: "Eingestellt", active: false)
        _ = try await admin.createService(tenant: b.id, key: "parking", name: "Anwohnerparkausweis")
        let keyA = try await admin.createIntakeClient(tenant: a.id, name: "portal A").secret
        let keyB = try await admin.createIntakeClient(tenant: b.id, name: "portal B").secret
        let restricted = try await admin.createIntakeClient(tenant: a.id, name: "dogs only", serviceKeys: ["dogs"]).secret
        let api = IntakeAPI(pool: db.pool, queue: JobQueue(pool: db.pool, notifier: nil), referenceBlockSize: referenceBlockSize, authCacheTTL: .seconds(10))
        var router = Router(logger: Logger(service: "intake-test", minimumLevel: .error))
        api.register(on: &router)
        return IntakeHarness(db: db, router: router, keyA: keyA, keyB: keyB, restrictedKeyA: restricted, tenantA: a.id, tenantB: b.id)
    }

    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
        /// `errors[].field` of a problem.
        var fields: [String] { (json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String } }
        var codes: [String] { (json["errors"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String } }
    }

    func send(_ method: HTTPMethod, _ path: String, key: String?, headers extra: [String: String] = [:], body: [UInt8] = []) async -> Response {
        var headers = HTTPHeaders()
        if let key { headers.add(name: "Authorization", value: "Bearer \(key)") }
        if !body.isEmpty && extra["Content-Type"] == nil { headers.add(name: "Content-Type", value: "application/json") }
        for (name, value) in extra { headers.add(name: name, value: value) }
        let request = HTTPRequest(head: HTTPRequestHead(method: method, target: path, version: .http1_1, headers: headers), body: body)
        let response = await router.respond(to: request)
        return Response(status: response.status.code, headers: response.headers, body: response.body)
    }

    /// A PDF-looking file of `size` bytes (`%PDF-` and zeros).
    static func pdf(_ size: Int) -> Data {
        var data = Data("%PDF-".utf8.prefix(size))
        if size > data.count { data.append(Data(count: size - data.count)) }
        return data
    }

    /// The start of a ZIP archive whose first entry is `entry` (stored) holding `content`.
    static func zip(entry: String, content: String = "<xml/>") -> [UInt8] {
        func le16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
        let name = Array(entry.utf8), body = Array(content.utf8)
        let header: [UInt8] = [0x50, 0x4B, 0x03, 0x04] + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + [0, 0, 0, 0]
        return header + le16(body.count) + le16(0) + le16(body.count) + le16(0) + le16(name.count) + le16(0) + name + body
    }

    /// The start of an OLE compound file whose directory names the stream `stream`.
    static func ole(_ stream: String) -> [UInt8] {
        func utf16(_ text: String) -> [UInt8] { text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } + [0, 0] }
        return [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1] + [UInt8](repeating: 0, count: 504) + utf16("Root Entry") + utf16(stream)
    }

    func post(_ body: [String: Any], key: String? = nil, idempotencyKey: String? = nil) async throws -> Response {
        try await postRaw(try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]), key: key ?? keyA, idempotencyKey: idempotencyKey)
    }

    func postRaw(_ body: Data, key: String?, idempotencyKey: String? = nil, contentType: String = "application/json") async throws -> Response {
        var headers = ["Content-Type": contentType]
        if let idempotencyKey { headers["Idempotency-Key"] = idempotencyKey }
        return await send(.post, "/v1/applications", key: key, headers: headers, body: Array(body))
    }

    /// Row counts of every table a submission writes to.
    func footprint() async throws -> [Int] {
        try await db.pool.query("""
            SELECT (SELECT count(*) FROM applications)::int AS a, (SELECT count(*) FROM attachments)::int AS b,
                   (SELECT count(*) FROM timeline_events)::int AS c, (SELECT count(*) FROM audit_log)::int AS d,
                   (SELECT count(*) FROM queue_jobs)::int AS e, (SELECT count(*) FROM intake_idempotency_keys)::int AS f,
                   (SELECT count(*) FROM messages)::int AS g
            """).map { row in try ["a", "b", "c", "d", "e", "f", "g"].map { try row.decode($0, as: Int.self) } }[0]
    }

    static func validBody(service: String = "parking", name: String = "Erika Mustermann") -> [String: Any] {
        [
            "service": service,
            "applicant": [
                "name": name, "email": "erika@example.de",
                "address": ["street": "Markt 1", "postal_code": "41812", "city": "Erkelenz", "municipality_key": "05370016"],
                "postbox": ["mailbox_id": "6f1c1d2e-1111-4a4a-9b9b-123456789abc", "trust_level": "substantial", "document_consent": true],
            ],
            "form": ["plate": "HS-AB 123", "vehicle": ["kind": "car", "seats": 5], "zones": ["A", "B"]],
            "attachments": [[
                "filename": "Fahrzeugschein.pdf", "content_type": "application/pdf",
                "content_base64": Data("%PDF-1.7 test".utf8).base64EncodedString(),
                "sha256": SHA256.hexDigest(Array("%PDF-1.7 test".utf8)),
            ]],
            "payment": ["provider": "epay-nrw", "transaction_id": "T-1", "amount_cents": 3050, "status": "paid"],
            "submitted_at": "2026-11-23T10:00:00Z",
        ]
    }
}

extension Dictionary where Key == String, Value == Any {
    /// A copy with the value at a dotted path set (nil removes it).
    func setting(_ path: String, _ value: Any?) -> [String: Any] {
        var copy = self
        let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
        if parts.count == 1 {
            copy[parts[0]] = value
        } else {
            let inner = (copy[parts[0]] as? [String: Any]) ?? [:]
            copy[parts[0]] = inner.setting(parts[1], value)
        }
        return copy
    }
}
