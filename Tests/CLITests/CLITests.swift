import Foundation
import HTTPTestSupport
import Schema
import Testing
import TestSupport

/// The `amtsweg` executable against a fresh database.
@Suite struct CLITests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
    }

    func amtsweg(_ db: TestDatabase?, _ arguments: String...) async throws -> Run {
        var all = arguments
        if let db { all = ["--database-url", db.url] + all }
        let result = try await runProcess(try builtProduct("amtsweg"), all)
        return Run(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    @Test func setsUpATenantFromScratch() async throws {
        let db = try await TestDatabase.make(migrated: false)
        var run = try await amtsweg(db, "migrate", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.object["applied"] as? [Int] == Migrations.all.map(\.version))
        run = try await amtsweg(db, "migrate", "--status", "--json")
        #expect(run.object["current"] as? Bool == true)

        run = try await amtsweg(db, "tenant", "create", "--slug", "erkelenz", "--name", "Stadt Erkelenz", "--prefix", "ERK",
                                "--municipality-key", "05370016", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.object["reference_prefix"] as? String == "ERK")
        #expect(run.object["decisions_via_back_channel"] as? Bool == false)

        run = try await amtsweg(db, "service", "create", "--tenant", "erkelenz", "--key", "parking", "--name", "Anwohnerparkausweis",
                                "--leika", "99001001000000", "--retention-days", "90", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.object["document_trust_level"] as? String == "substantial")
        #expect(run.object["retention_days"] as? Int == 90)

        run = try await amtsweg(db, "caseworker", "create", "--tenant", "erkelenz", "--name", "Anna Admin", "--email", "anna@erkelenz.de", "--admin", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.object["roles"] as? [String] == ["admin", "caseworker"], "stored as the admin API stores them: no repeats, sorted")
        run = try await amtsweg(db, "caseworker", "create", "--tenant", "erkelenz", "--name", "Bert", "--email", "bert@erkelenz.de", "--no-email-notifications")
        #expect(run.status == 0, "\(run.stderr)")

        run = try await amtsweg(db, "area", "create", "--tenant", "erkelenz", "--service", "parking", "--name", "Nord",
                                "--rule", "postal_codes=41812,4181", "--rule", "form_field:district=Nord", "--member", "bert@erkelenz.de", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        #expect((run.object["rules"] as? [Any])?.count == 2)
        run = try await amtsweg(db, "area", "create", "--tenant", "erkelenz", "--name", "Poststelle", "--fallback")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try await db.scalar("SELECT count(*)::int FROM tenants WHERE fallback_area_id IS NOT NULL", as: Int.self) == 1)
        #expect(try await db.scalar("SELECT string_agg(kind, ',' ORDER BY position) FROM area_rules", as: String.self) == "postal_codes,form_field")

        run = try await amtsweg(db, "token", "create", "--tenant", "erkelenz", "--caseworker", "anna@erkelenz.de", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let token = try #require(run.object["secret"] as? String)
        #expect(token.hasPrefix("amtsweg_ct_"))

        run = try await amtsweg(db, "intake-client", "create", "--tenant", "erkelenz", "--name", "Formularserver", "--service", "parking")
        #expect(run.status == 0, "\(run.stderr)")
        let key = try #require(run.stdout.split(separator: "\n").first.map(String.init))
        #expect(key.hasPrefix("amtsweg_ik_"))
        // Only hashes are stored.
        #expect(try await db.scalar("SELECT count(*)::int FROM intake_clients WHERE key_hash = sha256(convert_to(\(key), 'UTF8'))", as: Int.self) == 1)
        #expect(try await db.scalar("SELECT count(*)::int FROM caseworker_tokens WHERE token_hash = sha256(convert_to(\(token), 'UTF8'))", as: Int.self) == 1)

        run = try await amtsweg(db, "tenant", "list", "--json")
        #expect((run.json as? [[String: Any]])?.map { $0["slug"] as? String } == ["erkelenz"])
        run = try await amtsweg(db, "service", "list", "--tenant", "erkelenz")
        #expect(run.stdout.contains("parking"))
    }

    /// `--rule` is checked by the routing engine's own validator: what routing accepts is saved,
    /// what it refuses (or could never reach) is refused before anything is stored.
    @Test func rulesAreTheRoutingEnginesRules() async throws {
        let db = try await TestDatabase.make()
        var run = try await amtsweg(db, "tenant", "create", "--slug", "erkelenz", "--name", "Stadt Erkelenz", "--prefix", "ERK")
        #expect(run.status == 0, "\(run.stderr)")
        run = try await amtsweg(db, "service", "create", "--tenant", "erkelenz", "--key", "parking", "--name", "Anwohnerparkausweis")
        #expect(run.status == 0, "\(run.stderr)")

        run = try await amtsweg(db, "area", "create", "--tenant", "erkelenz", "--service", "parking", "--name", "Range",
                                "--rule", "postal_codes=52500-52599,5253")
        #expect(run.status == 0, "a postal-code range is savable: \(run.stderr)")
        run = try await amtsweg(db, "area", "create", "--tenant", "erkelenz", "--service", "parking", "--name", "Typed",
                                "--rule", #"form_field={"field": "vehicle.kind", "values": ["truck", 3, true]}"#)
        #expect(run.status == 0, "a form_field rule with JSON values: \(run.stderr)")
        #expect(try await db.scalar("SELECT string_agg(definition::text, ' | ' ORDER BY position) FROM area_rules", as: String.self)
                == #"{"values": ["52500-52599", "5253"]} | {"field": "vehicle.kind", "values": ["truck", 3, true]}"#)

        for (rule, field) in [
            (#"form_field={"field": "vehicle.kind", "values": ["truck", null]}"#, "definition.values[1]"),
            ("form_field:vehicle kind=truck", "definition.field"),
            ("form_field:a.b.c.d.e.f.g.h.i.j.k=truck", "definition.field"),
            ("postal_codes=" + (0..<1001).map { _ in "41812" }.joined(separator: ","), "definition.values"),
            ("postal_codes=52599-52500", "definition.values[0]"),
        ] {
            run = try await amtsweg(db, "area", "create", "--tenant", "erkelenz", "--service", "parking", "--name", "Refused", "--rule", rule)
            #expect(run.status == 2, "\(rule.prefix(60)): \(run.stderr)")
            #expect(run.stderr.contains(field), "\(rule.prefix(60)): \(run.stderr)")
        }

        run = try await amtsweg(db, "area", "create", "--tenant", "erkelenz", "--service", "parking", "--name", "General", "--rule", "default")
        #expect(run.status == 0, "\(run.stderr)")
        run = try await amtsweg(db, "area", "create", "--tenant", "erkelenz", "--service", "parking", "--name", "Late",
                                "--rule", "postal_codes=41812", "--json")
        #expect(run.status == 1, "a rule behind the default rule could never match: \(run.stderr)")
        #expect(run.stderr.contains("never match"), "\(run.stderr)")
        #expect(try await db.scalar("SELECT count(*)::int FROM responsibility_areas WHERE name IN ('Refused', 'Late')", as: Int.self) == 0)
        #expect(try await db.scalar("SELECT count(*)::int FROM area_rules", as: Int.self) == 3)
    }

    @Test func deadLettersCanBeListedReplayedAndPurged() async throws {
        let db = try await TestDatabase.make()
        try await db.pool.query("""
            INSERT INTO queue_dead_letters (job_id, queue, payload, priority, attempts, max_attempts, last_error, created_at)
            VALUES (1, 'route', '{"application_id":"x"}', 0, 20, 20, 'boom', now()), (2, 'notify-email', '{}', 0, 12, 12, 'smtp down', now())
            """)
        var run = try await amtsweg(db, "dead-letters", "list", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let letters = try #require(run.json as? [[String: Any]])
        #expect(letters.count == 2)
        #expect(letters.first?["last_error"] as? String == "boom")
        let ids = letters.compactMap { $0["id"] as? Int }
        run = try await amtsweg(db, "dead-letters", "list", "--queue", "route", "--json")
        #expect((run.json as? [Any])?.count == 1)

        run = try await amtsweg(db, "dead-letters", "replay", "--id", String(ids[0]), "--json")
        #expect(run.status == 0, "\(run.stderr)")
        #expect((run.object["replayed_job_ids"] as? [Any])?.count == 1)
        #expect(try await db.scalar("SELECT count(*)::int FROM queue_jobs WHERE queue = 'route'", as: Int.self) == 1)

        run = try await amtsweg(db, "dead-letters", "purge", String(ids[1]), "--json")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.object["purged"] as? Int == 1)
        #expect(try await db.scalar("SELECT count(*)::int FROM queue_dead_letters", as: Int.self) == 0)
        #expect(try await db.scalar("SELECT count(*)::int FROM audit_log WHERE action IN ('dead_letter.replay', 'dead_letter.purge')", as: Int.self) == 2)
    }

    @Test func listingDeadLettersIsAudited() async throws {
        let db = try await TestDatabase.make()
        let tenant = try await db.scalar("INSERT INTO tenants (slug, name, reference_prefix) VALUES ('a', 'A', 'AA') RETURNING id", as: UUID.self)
        try await db.pool.query("""
            INSERT INTO queue_dead_letters (job_id, queue, tenant_id, payload, priority, attempts, max_attempts, last_error, created_at)
            VALUES (1, 'route', \(tenant), '{"application_id":"secret-1"}', 0, 20, 20, 'boom', now()),
                   (2, 'notify-email', NULL, '{"caseworker_id":"secret-2"}', 0, 12, 12, 'smtp down', now())
            """)
        let ids = try await db.pool.query("SELECT id FROM queue_dead_letters ORDER BY id").map { try $0.decode("id", as: Int64.self) }
        var run = try await amtsweg(db, "dead-letters", "list", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        run = try await amtsweg(db, "dead-letters", "list", "--tenant", "a")
        #expect(run.status == 0, "\(run.stderr)")
        let rows = try await db.pool.query("""
            SELECT tenant_id, actor_kind, details ->> 'ids' AS ids, details ->> 'count' AS count, details::text AS details
            FROM audit_log WHERE action = 'dead_letter.read' ORDER BY id
            """)
        #expect(rows.count == 2, "one entry per listing")
        #expect(try rows.map { try $0.decode("ids", as: String?.self) } == [ids.map(String.init).joined(separator: ","), String(ids[0])])
        #expect(try rows.map { try $0.decode("count", as: String?.self) } == ["2", "1"])
        #expect(try rows.map { try $0.decode("tenant_id", as: UUID?.self) } == [nil, tenant])
        #expect(try rows.allSatisfy { try $0.decode("actor_kind", as: String.self) == "operator" })
        #expect(try rows.allSatisfy { !(try $0.decode("details", as: String.self)).contains("secret-") })
    }

    @Test func notificationTemplatesCanBeListedSetAndReset() async throws {
        let db = try await TestDatabase.make()
        var run = try await amtsweg(db, "tenant", "create", "--slug", "erkelenz", "--name", "Stadt Erkelenz", "--prefix", "ERK")
        #expect(run.status == 0, "\(run.stderr)")
        run = try await amtsweg(db, "template", "list", "--tenant", "erkelenz", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let defaults = try #require(run.json as? [[String: Any]])
        #expect(defaults.count == 9)
        #expect(defaults.allSatisfy { $0["is_default"] as? Bool == true })

        let bodyFile = FileManager.default.temporaryDirectory.appendingPathComponent("amtsweg-template-\(UUID().uuidString).txt")
        try "Guten Tag,\n\nzum Vorgang {{reference}} ({{service}}) kam eine Antwort: {{link}}\n".write(to: bodyFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: bodyFile) }
        run = try await amtsweg(db, "template", "set", "--tenant", "erkelenz", "--kind", "email.applicant_replied",
                                "--subject", "Antwort zu {{reference}}", "--body-file", bodyFile.path, "--json")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.object["is_default"] as? Bool == false)
        #expect(try await db.scalar("SELECT body FROM notification_templates WHERE kind = 'email.applicant_replied' AND locale = 'de'", as: String.self)
                == "Guten Tag,\n\nzum Vorgang {{reference}} ({{service}}) kam eine Antwort: {{link}}\n")

        run = try await amtsweg(db, "template", "set", "--tenant", "erkelenz", "--kind", "email.new_application",
                                "--subject", "Neu von {{applicant_name}}", "--body", "x")
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stderr.contains("{{applicant_name}}"), "\(run.stderr)")
        run = try await amtsweg(db, "template", "set", "--tenant", "erkelenz", "--kind", "email.birthday", "--subject", "x", "--body", "y")
        #expect(run.status == 2, "\(run.stderr)")

        run = try await amtsweg(db, "template", "list", "--tenant", "erkelenz")
        #expect(run.stdout.contains("email.applicant_replied\ttenant"), "\(run.stdout)")
        run = try await amtsweg(db, "template", "reset", "--tenant", "erkelenz", "--kind", "email.applicant_replied", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.object["is_default"] as? Bool == true)
        #expect(try await db.scalar("SELECT count(*)::int FROM notification_templates", as: Int.self) == 0)
        #expect(try await db.scalar("SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE object_kind = 'notification_template'", as: String.self)
                == "notification_template.set,notification_template.reset")
    }

    @Test(arguments: [
        ["frobnicate"],
        ["tenant"],
        ["tenant", "create", "--slug", "x", "--name", "X"],                       // --prefix missing
        ["tenant", "create", "--slug", "x", "--name", "X", "--prefix", "ERK", "--colour", "red"],
        ["service", "create", "--tenant", "erkelenz", "--key", "k", "--name", "K", "--leika", "123"],
        ["service", "create", "--tenant", "erkelenz", "--key", "k", "--name", "K", "--document-trust-level", "medium"],
        ["area", "create", "--tenant", "erkelenz", "--name", "A", "--rule", "postal_codes=41812"],   // rules need --service
        ["area", "create", "--tenant", "erkelenz", "--service", "parking", "--name", "A", "--rule", "nearest=1"],
        ["dead-letters", "replay"],
        ["dead-letters", "purge", "--id", "abc"],
    ])
    func badArgumentsExitWithStatusTwo(_ arguments: [String]) async throws {
        let db = try await TestDatabase.make()
        let run = try await runProcess(try builtProduct("amtsweg"), ["--database-url", db.url] + arguments)
        #expect(run.status == 2, "\(arguments): \(run.stderr)")
        #expect(run.stderr.contains("amtsweg:"))
        #expect(try await db.scalar("SELECT count(*)::int FROM tenants", as: Int.self) == 0)
    }

    @Test func dataErrorsExitWithStatusOneAndSayWhy() async throws {
        let db = try await TestDatabase.make()
        var run = try await amtsweg(db, "service", "list", "--tenant", "nowhere", "--json")
        #expect(run.status == 1)
        #expect(run.stderr.contains("no tenant 'nowhere'"))
        #expect((run.object["error"] as? [String: Any])?["code"] as? String == "not_found")
        run = try await amtsweg(db, "tenant", "create", "--slug", "a", "--name", "A", "--prefix", "ERK")
        #expect(run.status == 0)
        run = try await amtsweg(db, "tenant", "create", "--slug", "a", "--name", "A", "--prefix", "HS")
        #expect(run.status == 1)
        #expect(run.stderr.contains("already exists"))
        run = try await amtsweg(db, "intake-client", "create", "--tenant", "a", "--name", "p", "--service", "nope")
        #expect(run.status == 1)
        #expect(try await db.scalar("SELECT count(*)::int FROM intake_clients", as: Int.self) == 0)
    }

    @Test func withoutADatabaseItSaysHowToGiveOne() async throws {
        let run = try await runProcess("/usr/bin/env", ["-u", "DATABASE_URL", "-u", "DATABASE_URL_FILE", try builtProduct("amtsweg"), "tenant", "list"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("DATABASE_URL"))
    }
}
