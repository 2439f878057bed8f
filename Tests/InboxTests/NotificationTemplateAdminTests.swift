import Administration
import ApplicationLifecycle
import Domain
import Foundation
@testable import InboxService
import NotificationTemplates
import Postgres
import Testing
import TestSupport

/// The tenant's texts (`notification_templates`): listed with the defaults, set with their
/// placeholders checked at save time, reset to the default.
@Suite("Admin notification templates", .serialized)
struct NotificationTemplateAdminTests {
    static let kinds = [
        "email.new_application", "email.applicant_replied", "email.delivery_failed",
        "citizen.status.received", "citizen.status.assigned", "citizen.status.in_progress",
        "citizen.status.awaiting_applicant", "citizen.status.completed", "citizen.status.withdrawn",
    ]

    func put(_ h: InboxHarness, _ kind: String, as member: InboxHarness.Member? = nil, _ json: [String: Any]) async throws -> InboxHarness.Response {
        try await h.request("PUT", "/v1/admin/notification-templates/\(kind)", token: (member ?? h.adminA).token, json: json)
    }

    func item(_ list: InboxHarness.Response, _ kind: String) -> [String: Any] {
        list.items.first { $0["kind"] as? String == kind } ?? [:]
    }

    @Test("every kind is listed with its German default and its placeholders; e-mails offer none with applicant data")
    func listDefaults() async throws {
        try await InboxHarness.with { h in
            let list = try await h.get("/v1/admin/notification-templates", as: h.adminA)
            #expect(list.status == 200, "\(list)")
            #expect(list.items.compactMap { $0["kind"] as? String } == Self.kinds)
            #expect(list.items.allSatisfy { $0["is_default"] as? Bool == true && $0["locale"] as? String == "de" })
            let mail = item(list, "email.new_application")
            #expect(mail["subject"] as? String == "Neuer Antrag {{reference}} in Ihrem Postkorb: {{service}}")
            #expect((mail["body"] as? String)?.hasPrefix("Guten Tag,") == true)
            for kind in Self.kinds where kind.hasPrefix("email.") {
                #expect(item(list, kind)["placeholders"] as? [String] == ["reference", "service", "link", "tenant"], "\(kind)")
            }
            #expect(item(list, "citizen.status.in_progress")["placeholders"] as? [String] == ["reference", "service"])
            #expect(item(list, "citizen.status.completed")["placeholders"] as? [String] == ["reference", "service", "outcome"])
            #expect(item(list, "citizen.status.in_progress")["subject"] as? String == "Ihr Antrag {{reference}} wird bearbeitet")
            #expect(try await h.get("/v1/admin/notification-templates", as: h.cw1).status == 403)
            #expect(try await h.get("/v1/admin/notification-templates?locale=deutsch", as: h.adminA).status == 422)
        }
    }

    @Test("set, list and reset a tenant's text; other tenants keep the default; every change is audited")
    func setAndReset() async throws {
        try await InboxHarness.with { h in
            let saved = try await put(h, "email.new_application", ["subject": "Neu: {{reference}}", "body": "{{service}} – {{link}} ({{tenant}})"])
            #expect(saved.status == 200, "\(saved)")
            #expect(saved.json["is_default"] as? Bool == false)
            #expect(saved.json["subject"] as? String == "Neu: {{reference}}")
            let status = try await put(h, "citizen.status.completed", ["subject": "Fertig: {{reference}}", "body": "{{service}}: {{outcome}}"])
            #expect(status.status == 200, "\(status)")

            let list = try await h.get("/v1/admin/notification-templates", as: h.adminA)
            #expect(item(list, "email.new_application")["subject"] as? String == "Neu: {{reference}}")
            #expect(item(list, "email.new_application")["is_default"] as? Bool == false)
            #expect(item(list, "email.applicant_replied")["is_default"] as? Bool == true)
            #expect(item(list, "citizen.status.completed")["body"] as? String == "{{service}}: {{outcome}}")
            let other = try await h.get("/v1/admin/notification-templates", as: h.adminB)
            #expect(other.items.allSatisfy { $0["is_default"] as? Bool == true })

            let reset = try await h.request("DELETE", "/v1/admin/notification-templates/email.new_application", token: h.adminA.token)
            #expect(reset.status == 200, "\(reset)")
            #expect(reset.json["is_default"] as? Bool == true)
            #expect(reset.json["subject"] as? String == "Neuer Antrag {{reference}} in Ihrem Postkorb: {{service}}")
            #expect(try await h.request("DELETE", "/v1/admin/notification-templates/email.new_application", token: h.adminA.token).status == 200, "resetting twice is fine")
            #expect(try await h.count("SELECT count(*)::integer FROM notification_templates WHERE tenant_id = \(h.tenantA)") == 1)
            let one = try await h.get("/v1/admin/notification-templates/citizen.status.completed", as: h.adminA)
            #expect(one.json["is_default"] as? Bool == false)

            let actions = try await h.db.pool.query("""
                SELECT action, object_id FROM audit_log WHERE object_kind = 'notification_template' AND actor_id = \(h.adminA.id) ORDER BY id
                """).map { "\(try $0.decode("action", as: String.self)) \(try $0.decode("object_id", as: String.self))" }
            #expect(actions == ["notification_template.set email.new_application", "notification_template.set citizen.status.completed",
                                "notification_template.reset email.new_application", "notification_template.reset email.new_application"])
        }
    }

    @Test("placeholders are checked at save time: unknown ones (applicant data) are a 422 naming them")
    func refusedTexts() async throws {
        try await InboxHarness.with { h in
            let refused: [(kind: String, subject: String, body: String, field: String, code: String, names: String?)] = [
                ("email.new_application", "Antrag von {{applicant_name}}", "x", "subject", "unknown-placeholder", "applicant_name"),
                ("email.applicant_replied", "Antwort", "Mail: {{applicant_email}} {{link}}", "body", "unknown-placeholder", "applicant_email"),
                ("email.delivery_failed", "Fehler {{reference}", "x", "subject", "invalid-template", nil),
                ("email.delivery_failed", "Fehler", "x }} y", "body", "invalid-template", nil),
                ("email.new_application", "Neu\r\nBcc: a@b.de", "x", "subject", "invalid", nil),
                ("citizen.status.in_progress", "In Arbeit", "Ergebnis: {{outcome}}", "body", "unknown-placeholder", "outcome"),
                ("citizen.status.received", "Eingang {{ reference }}", "x", "subject", "invalid-template", nil),
                ("citizen.status.received", "", "x", "subject", "invalid", nil),
            ]
            for r in refused {
                let answer = try await put(h, r.kind, ["subject": r.subject, "body": r.body])
                #expect(answer.status == 422, "\(r): \(answer)")
                let errors = answer.json["errors"] as? [[String: Any]] ?? []
                let match = errors.first { $0["field"] as? String == r.field && $0["code"] as? String == r.code }
                #expect(match != nil, "\(r): \(answer)")
                if let names = r.names { #expect((match?["message"] as? String)?.contains("{{\(names)}}") == true, "\(answer)") }
            }
            #expect(try await put(h, "email.birthday", ["subject": "x", "body": "y"]).status == 404)
            #expect(try await h.get("/v1/admin/notification-templates/citizen.status.unknown", as: h.adminA).status == 404)
            #expect(try await h.request("DELETE", "/v1/admin/notification-templates/email.birthday", token: h.adminA.token).status == 404)
            #expect(try await put(h, "email.new_application", ["subject": "x", "body": "y", "locale": "deutsch"]).status == 422)
            #expect(try await h.count("SELECT count(*)::integer FROM notification_templates") == 0)
        }
    }

    @Test("the applicant's status message uses the tenant's text saved through the admin API")
    func statusMessageUsesTheSavedText() async throws {
        try await InboxHarness.with { h in
            let saved = try await put(h, "citizen.status.in_progress", ["subject": "{{reference}} ist in Arbeit", "body": "Wir bearbeiten {{service}}."])
            #expect(saved.status == 200, "\(saved)")
            let id = try await h.makeApplication(area: h.north)
            #expect(try await h.post("/v1/applications/\(id.uuidString.lowercased())/claim", as: h.cw1, ifMatch: 1).status == 200)
            let row = try await h.db.pool.query("SELECT a.reference, m.subject, m.body FROM messages m JOIN applications a ON a.id = m.application_id WHERE m.application_id = \(id)")[0]
            #expect(try row.decode("subject", as: String.self) == "\(try row.decode("reference", as: String.self)) ist in Arbeit")
            #expect(try row.decode("body", as: String.self) == "Wir bearbeiten Anwohnerparkausweis.")
        }
    }

    @Test("every status the lifecycle writes a message for has a text in the catalog, and every default is savable")
    func catalogHoldsTheSendersDefaults() throws {
        for source in ApplicationStatus.allCases {
            for target in ApplicationStatus.allCases {
                let status = StatusMessages.textStatus(from: source, to: target)
                #expect(TemplateCatalog.citizenStatus(status.rawValue) != nil, "\(source) → \(target)")
            }
        }
        for kind in TemplateCatalog.kinds {
            #expect(AdminStore.templateProblems(kind, subject: kind.defaultSubject, body: kind.defaultBody).isEmpty, "the default of \(kind.name) is savable")
        }
        #expect(TemplateCatalog.citizenStatus("unroutable") == nil, "applicants hear nothing of unroutable")
        #expect(TemplateCatalog.kinds.map(\.name) == Self.kinds)
    }
}
