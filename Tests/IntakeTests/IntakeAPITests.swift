import Domain
import Foundation
import HTTPServer
import Postgres
import Testing
import TestSupport

@Suite struct IntakeAPITests {
    @Test func acceptsAnApplicationWithEverythingInOneTransaction() async throws {
        let h = try await IntakeHarness.make()
        let response = try await h.post(IntakeHarness.validBody())
        #expect(response.status == 201, "\(response.text)")
        let id = try #require(response.json["id"] as? String)
        #expect(response.json["status"] as? String == "received")
        let reference = try #require(response.json["reference"] as? String)
        #expect(reference.range(of: #"^ERK-\d{4}-000001$"#, options: .regularExpression) != nil)
        #expect(response.headers["Location"] == "/v1/applications/\(id)")

        let uuid = try #require(UUID(uuidString: id))
        let row = try await h.db.pool.query("""
            SELECT a.status, a.tenant_id, a.reference, a.applicant->>'name' AS name, a.applicant->'address'->>'municipality_key' AS ags,
                   a.form->'vehicle'->>'kind' AS kind, a.payment->>'amount_cents' AS cents, a.postbox_trust_level, a.document_consent,
                   a.submitted_at = '2026-11-23T10:00:00Z'::timestamptz AS submitted, s.key
            FROM applications a JOIN services s ON s.id = a.service_id WHERE a.id = \(uuid)
            """)[0]
        #expect(try row.decode("status", as: String.self) == "received")
        #expect(try row.decode("tenant_id", as: UUID.self) == h.tenantA)
        #expect(try row.decode("name", as: String.self) == "Erika Mustermann")
        #expect(try row.decode("ags", as: String.self) == "05370016")
        #expect(try row.decode("kind", as: String.self) == "car")
        #expect(try row.decode("cents", as: String.self) == "3050")
        #expect(try row.decode("postbox_trust_level", as: String.self) == "substantial")
        #expect(try row.decode("document_consent", as: Bool.self))
        #expect(try row.decode("submitted", as: Bool.self))
        #expect(try row.decode("key", as: String.self) == "parking")

        let file = try await h.db.pool.query("SELECT filename, content_type, size_bytes, sha256, content FROM attachments WHERE application_id = \(uuid)")
        #expect(file.count == 1)
        #expect(try file[0].decode("filename", as: String.self) == "Fahrzeugschein.pdf")
        #expect([UInt8](try file[0].decode("content", as: Data.self)) == Array("%PDF-1.7 test".utf8))
        #expect([UInt8](try file[0].decode("sha256", as: Data.self)) == SHA256.hash(Array("%PDF-1.7 test".utf8)))

        #expect(try await h.db.scalar("SELECT string_agg(kind || '/' || visibility, ',') FROM timeline_events WHERE application_id = \(uuid)", as: String.self) == "received/public")
        #expect(try await h.db.scalar("SELECT count(*)::int FROM audit_log WHERE action = 'application.create' AND application_id = \(uuid) AND actor_kind = 'intake_client'", as: Int.self) == 1)
        // The audit entry holds no personal data.
        let audit = try await h.db.scalar("SELECT details::text FROM audit_log WHERE application_id = \(uuid)", as: String.self)
        #expect(!audit.contains("Erika") && !audit.contains("erika@"))
        let job = try await h.db.pool.query("SELECT queue, tenant_id, payload->>'application_id' AS app FROM queue_jobs")
        #expect(job.count == 1)
        #expect(try job[0].decode("queue", as: String.self) == "route")
        #expect(try job[0].decode("tenant_id", as: UUID.self) == h.tenantA)
        #expect(try job[0].decode("app", as: String.self) == id)
    }

    @Test func minimalSubmissionIsEnough() async throws {
        let h = try await IntakeHarness.make()
        let response = try await h.post(["service": "parking", "applicant": ["name": "Max"], "form": [:]])
        #expect(response.status == 201, "\(response.text)")
        #expect(try await h.db.scalar("SELECT count(*)::int FROM applications WHERE postbox_mailbox_id IS NULL AND payment IS NULL", as: Int.self) == 1)
    }

    /// Every refused submission names the field, is problem+json and leaves every table as it was.
    /// Changes are JSON fragments at dotted paths; `<remove>` leaves the key out.
    @Test(arguments: [
        ("unknown service", ["service": #""nope""#], "service", "unknown-service"),
        ("malformed service key", ["service": #""Nope!""#], "service", "unknown-service"),
        ("inactive service", ["service": #""closed""#], "service", "inactive-service"),
        ("missing applicant name", ["applicant.name": "<remove>"], "applicant.name", "missing"),
        ("blank applicant name", ["applicant.name": #""   ""#], "applicant.name", "blank"),
        ("bad e-mail", ["applicant.email": #""erika-at-example""#], "applicant.email", "invalid-email"),
        ("bad mailbox id", ["applicant.postbox.mailbox_id": #""12345""#], "applicant.postbox.mailbox_id", "invalid-uuid"),
        ("unknown trust level", ["applicant.postbox.trust_level": #""medium""#], "applicant.postbox.trust_level", "unknown-trust-level"),
        ("bad postal code", ["applicant.address.postal_code": #""4181""#], "applicant.address.postal_code", "invalid-postal-code"),
        ("bad municipality key", ["applicant.address.municipality_key": #""0537""#], "applicant.address.municipality_key", "invalid-municipality-key"),
        ("form not an object", ["form": "[1, 2]"], "form", "wrong-type"),
        ("missing form", ["form": "<remove>"], "form", "missing"),
        ("bad submitted_at", ["submitted_at": #""yesterday""#], "submitted_at", "invalid-timestamp"),
        ("future submitted_at", ["submitted_at": #""2999-01-01T00:00:00Z""#], "submitted_at", "in-future"),
        ("negative amount", ["payment.amount_cents": "-1"], "payment.amount_cents", "out-of-range"),
        ("name wrong type", ["applicant.name": "42"], "applicant.name", "wrong-type"),
        ("control character in name", ["applicant.name": #""Erika\u0000""#], "applicant.name", "invalid"),
        ("NUL in form", ["form": #"{"a": "x\u0000"}"#], "form", "invalid"),
    ] as [(String, [String: String], String, String)])
    func refusedSubmissionsNameTheFieldAndStoreNothing(_ label: String, _ changes: [String: String], _ field: String, _ code: String) async throws {
        let h = try await IntakeHarness.make()
        let before = try await h.footprint()
        var body = IntakeHarness.validBody()
        for (path, json) in changes { body = body.setting(path, jsonValue(json)) }
        let response = try await h.post(body, idempotencyKey: "k-\(label.count)")
        #expect(response.status == 422, "\(label): \(response.text)")
        #expect(response.headers["Content-Type"] == "application/problem+json", "\(label)")
        #expect(response.fields.contains(field), "\(label): \(response.text)")
        #expect(response.codes.contains(code), "\(label): \(response.text)")
        #expect(try await h.footprint() == before, "\(label): something was stored")
    }

    /// A member name twice in one object (`applicant.name`): readers disagree on which counts, so
    /// it is refused before anything is read from it.
    @Test func aDuplicateMemberNameIsRefusedNamingItAndStoresNothing() async throws {
        let h = try await IntakeHarness.make()
        let before = try await h.footprint()
        let valid = String(decoding: try JSONSerialization.data(withJSONObject: IntakeHarness.validBody(), options: [.sortedKeys]), as: UTF8.self)
        let doubled = valid.replacingOccurrences(of: #""applicant":{"#, with: #""applicant":{"name":"Eve Mallory","#)
        #expect(doubled != valid)
        let response = try await h.postRaw(Data(doubled.utf8), key: h.keyA)
        #expect(response.status == 422, "\(response.text)")
        #expect(response.fields.contains("applicant.name") && response.codes.contains("duplicate-key"), "\(response.text)")
        #expect(try await h.footprint() == before)
    }

    @Test(arguments: [
        ("malformed base64", ["content_base64": #""aGVsbG8*""#], "attachments[0].content_base64", "invalid-base64"),
        ("checksum mismatch", ["sha256": #""0000000000000000000000000000000000000000000000000000000000000000""#], "attachments[0].sha256", "checksum-mismatch"),
        ("checksum not hex", ["sha256": #""xyz""#], "attachments[0].sha256", "invalid"),
        ("content type not allowed", ["content_type": #""application/x-msdownload""#], "attachments[0].content_type", "unsupported-content-type"),
        ("missing filename", ["filename": "<remove>"], "attachments[0].filename", "missing"),
    ] as [(String, [String: String], String, String)])
    func refusedAttachmentsNameTheFieldAndStoreNothing(_ label: String, _ changes: [String: String], _ field: String, _ code: String) async throws {
        let h = try await IntakeHarness.make()
        let before = try await h.footprint()
        var attachment = (IntakeHarness.validBody()["attachments"] as! [[String: Any]])[0]
        for (key, json) in changes { attachment[key] = jsonValue(json) }
        let body = IntakeHarness.validBody().setting("attachments", [attachment])
        let response = try await h.post(body)
        #expect(response.status == 422, "\(label): \(response.text)")
        #expect(response.fields.contains(field), "\(label): \(response.text)")
        #expect(response.codes.contains(code), "\(label): \(response.text)")
        #expect(try await h.footprint() == before)
    }

    /// An attachment must be what its type says: magic numbers, the inner entries of ZIP- and
    /// OLE-based formats, and for text: UTF-8 without markup a browser would run.
    @Test(arguments: [
        ("PNG declared as PDF", "application/pdf", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0], "content-mismatch"),
        ("an executable declared as JPEG", "image/jpeg", [0x4D, 0x5A, 0x90, 0x00, 0x03], "content-mismatch"),
        ("a Word 97 file declared as Excel 97", "application/vnd.ms-excel", IntakeHarness.ole("WordDocument"), "content-mismatch"),
        ("a DOCX declared as XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", IntakeHarness.zip(entry: "word/document.xml"), "content-mismatch"),
        ("an ODT declared as ODS", "application/vnd.oasis.opendocument.spreadsheet", IntakeHarness.zip(entry: "mimetype", content: "application/vnd.oasis.opendocument.text"), "content-mismatch"),
        ("Latin-1 text", "text/plain", [0x47, 0x72, 0xFC, 0xDF, 0x65], "content-mismatch"),
        ("HTML as plain text", "text/plain", Array("Hallo <SCRIPT>alert(1)</script>".utf8), "active-content"),
        ("SVG as XML", "application/xml", Array(#"<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>"#.utf8), "active-content"),
        ("XHTML as XML", "text/xml", Array(#"<html xmlns="http://www.w3.org/1999/xhtml"/>"#.utf8), "active-content"),
    ] as [(String, String, [UInt8], String)])
    func attachmentsWhoseBytesAreNotTheirTypeAreRefused(_ label: String, _ type: String, _ content: [UInt8], _ code: String) async throws {
        let h = try await IntakeHarness.make()
        let before = try await h.footprint()
        let file: [String: Any] = ["filename": "datei", "content_type": type, "content_base64": Data(content).base64EncodedString()]
        let response = try await h.post(IntakeHarness.validBody().setting("attachments", [file]))
        #expect(response.status == 422, "\(label): \(response.text)")
        #expect(response.fields == ["attachments[0].content_base64"] && response.codes == [code], "\(label): \(response.text)")
        #expect(try await h.footprint() == before)
    }

    @Test func attachmentsOfEveryAllowedKindAreAcceptedWhenTheyAreWhatTheySay() async throws {
        let h = try await IntakeHarness.make()
        let files: [(String, [UInt8])] = [
            ("application/pdf", Array(IntakeHarness.pdf(100))),
            ("image/jpeg", [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            ("image/png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D]),
            ("image/gif", Array("GIF89a....".utf8)),
            ("image/tiff", [0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0]),
            ("image/webp", Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8 ".utf8)),
            ("image/heic", [0, 0, 0, 0x18] + Array("ftypheic".utf8) + [0, 0, 0, 0]),
            ("application/vnd.oasis.opendocument.text", IntakeHarness.zip(entry: "mimetype", content: "application/vnd.oasis.opendocument.text")),
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", IntakeHarness.zip(entry: "word/document.xml")),
            ("application/msword", IntakeHarness.ole("WordDocument")),
            ("application/vnd.ms-excel", IntakeHarness.ole("Workbook")),
            ("text/plain", Array("Grüße aus Erkelenz, <b>fett</b> ist kein Skript".utf8)),
            ("text/csv", Array("Name;Ort\nMüller;Hückelhoven\n".utf8)),
            ("application/json", Array(#"{"a": "<not html>"}"#.utf8)),
            ("application/xml", Array(#"<?xml version="1.0"?><antrag><name>Müller</name></antrag>"#.utf8)),
        ]
        let attachments: [[String: Any]] = files.map { ["filename": "datei", "content_type": $0.0, "content_base64": Data($0.1).base64EncodedString()] }
        let response = try await h.post(IntakeHarness.validBody().setting("attachments", attachments))
        #expect(response.status == 201, "\(response.text)")
    }

    @Test func attachmentLimits() async throws {
        let h = try await IntakeHarness.make()
        let before = try await h.footprint()
        func file(_ bytes: Int) -> [String: Any] {
            ["filename": "f.pdf", "content_type": "application/pdf", "content_base64": IntakeHarness.pdf(bytes).base64EncodedString()]
        }
        var response = try await h.post(IntakeHarness.validBody().setting("attachments", Array(repeating: file(10), count: 21)))
        #expect(response.status == 422)
        #expect(response.fields == ["attachments"] && response.codes == ["too-many"], "\(response.text)")

        response = try await h.post(IntakeHarness.validBody().setting("attachments", [file(10 << 20 + 1)]))
        #expect(response.status == 422)
        #expect(response.fields == ["attachments[0].content_base64"] && response.codes == ["too-large"], "\(response.text)")

        response = try await h.post(IntakeHarness.validBody().setting("attachments", [file(9 << 20), file(9 << 20), file(8 << 20)]))
        #expect(response.status == 422)
        #expect(response.fields == ["attachments"] && response.codes == ["too-large"], "\(response.text)")
        #expect(try await h.footprint() == before)

        // Exactly at the limits is fine: 10 MiB + 10 MiB + 5 MiB = 25 MiB.
        response = try await h.post(IntakeHarness.validBody().setting("attachments", [file(10 << 20), file(10 << 20), file(5 << 20)]))
        #expect(response.status == 201, "\(response.text)")
        #expect(try await h.db.scalar("SELECT sum(size_bytes)::bigint FROM attachments", as: Int64.self) == 25 << 20)
    }

    /// Large attachments are decoded from the body in chunks and joined by the server; JSON's
    /// optional `\/` escape inside base64 is understood.
    @Test func largeAttachmentsArriveIntactWithOrWithoutEscapedSlashes() async throws {
        let h = try await IntakeHarness.make()
        var generator = SystemRandomNumberGenerator()
        let sizes = [3 * (1 << 20) + 17, 1 << 20, 5]
        let contents = sizes.map { size in Array("%PDF-".utf8) + (5..<size).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        var json = #"{"service":"parking","applicant":{"name":"Max"},"form":{},"attachments":["#
        for (index, content) in contents.enumerated() {
            var base64 = Data(content).base64EncodedString()
            if index == 0 { base64 = base64.replacingOccurrences(of: "/", with: "\\/") }
            json += (index > 0 ? "," : "") + #"{"filename":"f\#(index).bin","content_type":"application/pdf","content_base64":"\#(base64)","sha256":"\#(SHA256.hexDigest(content))"}"#
        }
        json += "]}"
        let response = try await h.postRaw(Data(json.utf8), key: h.keyA)
        #expect(response.status == 201, "\(response.text)")
        let stored = try await h.db.pool.query("SELECT size_bytes, sha256(content) AS digest FROM attachments ORDER BY position")
        #expect(stored.count == 3)
        for (index, row) in stored.enumerated() {
            #expect(try row.decode("size_bytes", as: Int.self) == sizes[index])
            #expect([UInt8](try row.decode("digest", as: Data.self)) == SHA256.hash(contents[index]))
        }
        // A broken character deep inside a large attachment is found before anything is stored.
        let before = try await h.footprint()
        var broken = Data(contents[0]).base64EncodedString()
        broken.replaceSubrange(broken.index(broken.startIndex, offsetBy: 2_000_000)...broken.index(broken.startIndex, offsetBy: 2_000_000), with: "*")
        let bad = #"{"service":"parking","applicant":{"name":"Max"},"form":{},"attachments":[{"filename":"x","content_type":"application/pdf","content_base64":"\#(broken)"}]}"#
        let refused = try await h.postRaw(Data(bad.utf8), key: h.keyA)
        #expect(refused.status == 422)
        #expect(refused.fields == ["attachments[0].content_base64"] && refused.codes == ["invalid-base64"], "\(refused.text)")
        #expect(try await h.footprint() == before)
    }

    @Test func formLimits() async throws {
        let h = try await IntakeHarness.make()
        let before = try await h.footprint()
        var deep: Any = "leaf"
        for _ in 0..<33 { deep = ["a": deep] }
        var response = try await h.post(IntakeHarness.validBody().setting("form", deep))
        #expect(response.status == 422)
        #expect(response.fields == ["form"] && response.codes == ["too-deep"], "\(response.text)")

        response = try await h.post(IntakeHarness.validBody().setting("form", ["text": String(repeating: "x", count: 1 << 20)]))
        #expect(response.status == 422)
        #expect(response.fields == ["form"] && response.codes == ["too-large"], "\(response.text)")
        #expect(try await h.footprint() == before)

        var ok: Any = "leaf"
        for _ in 0..<32 { ok = ["a": ok] }
        response = try await h.post(IntakeHarness.validBody().setting("form", ok))
        #expect(response.status == 201, "\(response.text)")
    }

    @Test func filenamesAreSanitised() async throws {
        let h = try await IntakeHarness.make()
        let names = ["../../etc/passwd", "C:\\Users\\erika\\Antrag<1>.pdf", "..", "a\u{0}b\u{1F}c.pdf", "  .hidden.pdf  ", String(repeating: "ä", count: 300) + ".pdf",
                     "Rechnung\u{202E}fdp.exe", "a\u{200B}b\u{2066}c\u{FEFF}.txt"]
        let files: [[String: Any]] = names.map { ["filename": $0, "content_type": "text/plain", "content_base64": "aGk="] }
        let response = try await h.post(IntakeHarness.validBody().setting("attachments", files))
        #expect(response.status == 201, "\(response.text)")
        let stored = try await h.db.pool.query("SELECT filename FROM attachments ORDER BY position").map { try $0.decode("filename", as: String.self) }
        #expect(stored[0] == "passwd")
        #expect(stored[1] == "Antrag_1_.pdf")
        #expect(stored[2] == "attachment")
        #expect(stored[3] == "abc.pdf")
        #expect(stored[4] == "hidden.pdf")
        #expect(stored[5].utf8.count <= 255 && stored[5].hasSuffix(".pdf"))
        // Bidi controls and other format characters would make "…exe" read as "…pdf".
        #expect(stored[6] == "Rechnungfdp.exe")
        #expect(stored[7] == "abc.txt")
    }

    @Test func authenticationIsRequired() async throws {
        let h = try await IntakeHarness.make()
        let before = try await h.footprint()
        for key in [nil, "amtsweg_ik_wrong", "garbage", h.keyA + "x"] as [String?] {
            let body = try JSONSerialization.data(withJSONObject: IntakeHarness.validBody())
            let response = try await h.postRaw(body, key: key)
            #expect(response.status == 401, "\(String(describing: key))")
            #expect(response.headers["WWW-Authenticate"]?.hasPrefix("Bearer") == true)
            #expect(response.json["code"] as? String == "unauthorized")
        }
        // A revoked key stops working once the cache entry (never created here) is gone.
        try await h.db.pool.query("UPDATE intake_clients SET revoked_at = now()")
        let response = try await h.post(IntakeHarness.validBody())
        #expect(response.status == 401)
        #expect(try await h.footprint() == before)
    }

    @Test func serviceRestrictionOfAClient() async throws {
        let h = try await IntakeHarness.make()
        let before = try await h.footprint()
        var response = try await h.post(IntakeHarness.validBody(service: "parking"), key: h.restrictedKeyA)
        #expect(response.status == 422)
        #expect(response.fields == ["service"] && response.codes == ["service-not-allowed"], "\(response.text)")
        #expect(try await h.footprint() == before)
        response = try await h.post(IntakeHarness.validBody(service: "dogs"), key: h.restrictedKeyA)
        #expect(response.status == 201, "\(response.text)")
    }

    @Test func aKeyBoundToSomeServicesCannotReadOrWithdrawApplicationsOfOthers() async throws {
        let h = try await IntakeHarness.make()
        // Posted by the tenant's unrestricted portal to `parking`; the restricted key may only use `dogs`.
        let created = try await h.post(IntakeHarness.validBody(service: "parking"))
        let id = try #require(created.json["id"] as? String)
        let read = await h.send(.get, "/v1/applications/\(id)", key: h.restrictedKeyA)
        #expect(read.status == 404, "\(read.text)")
        let withdrawn = await h.send(.post, "/v1/applications/\(id)/withdraw", key: h.restrictedKeyA)
        #expect(withdrawn.status == 404, "\(withdrawn.text)")
        #expect(try await h.db.scalar("SELECT status FROM applications WHERE id = \(UUID(uuidString: id)!)", as: String.self) == "received")
        // Its own service stays readable and withdrawable.
        let own = try await h.post(IntakeHarness.validBody(service: "dogs"), key: h.restrictedKeyA)
        let ownID = try #require(own.json["id"] as? String)
        #expect(await h.send(.get, "/v1/applications/\(ownID)", key: h.restrictedKeyA).status == 200)
        #expect(await h.send(.post, "/v1/applications/\(ownID)/withdraw", key: h.restrictedKeyA).status == 200)
    }

    @Test func malformedRequests() async throws {
        let h = try await IntakeHarness.make()
        let before = try await h.footprint()
        var response = try await h.postRaw(Data("{not json".utf8), key: h.keyA)
        #expect(response.status == 400)
        #expect(response.json["code"] as? String == "invalid-json")
        response = try await h.postRaw(Data("[]".utf8), key: h.keyA)
        #expect(response.status == 422)
        // A lone surrogate escape is JSON the database cannot store as jsonb.
        response = try await h.postRaw(Data(#"{"service":"parking","applicant":{"name":"Max"},"form":{"a":"\ud800"}}"#.utf8), key: h.keyA)
        #expect(response.status == 422, "\(response.text)")
        #expect(response.fields == ["form"])
        response = try await h.postRaw(try JSONSerialization.data(withJSONObject: IntakeHarness.validBody()), key: h.keyA, contentType: "text/plain")
        #expect(response.status == 415)
        response = try await h.postRaw(try JSONSerialization.data(withJSONObject: IntakeHarness.validBody()), key: h.keyA, idempotencyKey: String(repeating: "k", count: 256))
        #expect(response.status == 400)
        #expect(response.json["code"] as? String == "invalid-idempotency-key")
        #expect(try await h.footprint() == before)
    }

    @Test func openAPIDocumentIsServedAndMatchesTheRepositoryFile() async throws {
        let h = try await IntakeHarness.make()
        let response = await h.send(.get, "/openapi.yaml", key: nil)
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"]?.hasPrefix("application/yaml") == true)
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Services/intake/openapi.yaml")
        // Byte for byte: the served document is compiled in from this file at build time (Plugins/EmbedFiles).
        #expect(response.body == Array(try Data(contentsOf: file)))
        #expect(response.text.hasPrefix("openapi: 3.1.0"))
    }
}

/// A JSON fragment as a Foundation value; `<remove>` is nil (the key is left out).
func jsonValue(_ json: String) -> Any? {
    if json == "<remove>" { return nil }
    return try! JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
}
