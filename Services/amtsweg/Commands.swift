import Administration
import Domain
import FoundationEssentials
import JobQueue
import Logging
import Postgres
import RoutingRules
import Schema

/// The commands: each parses its options, checks what can be checked without the database with
/// the store's own checks (a refusal is a usage error, exit status 2), then calls the admin store.
extension CLI {
    static func dispatch(_ a: inout Arguments, pool: PostgresPool, serviceRole: ServiceRole, logger: Logger, output: Output) async throws {
        let words = a.positional
        let store = AdminStore(pool: pool, actor: .operator)
        func expectWords(_ count: Int) throws {
            if words.count > count { throw UsageError("unexpected argument '\(words[count])'") }
        }
        switch (words.first, words.dropFirst().first) {
        case ("migrate", _):
            try expectWords(1)
            let statusOnly = a.flag("status")
            try a.checkNoUnknownOptions()
            let migrator = Migrator(serviceRole: serviceRole, logger: logger)
            if statusOnly {
                let status = try await migrator.status(pool)
                output.emit(MigrateStatus(applied: status.appliedVersions, latest: status.latestKnownVersion, current: status.isCurrent),
                            text: "applied: \(status.appliedVersions.map(String.init).joined(separator: ",")); latest: \(status.latestKnownVersion); current: \(status.isCurrent)")
            } else {
                let applied = try await migrator.migrate(pool)
                output.emit(["applied": applied], text: applied.isEmpty ? "schema is current" : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
            }

        case ("tenant", "create"):
            try expectWords(2)
            let slug = try a.required("slug"), name = try a.required("name"), prefix = try a.required("prefix")
            let ags = try a.optional("municipality-key")
            let decisions = a.flag("decisions-via-back-channel")
            try a.checkNoUnknownOptions()
            let tenant = try await store.createTenant(slug: slug, name: name, referencePrefix: prefix, municipalityKey: ags, decisionsViaBackChannel: decisions)
            output.emit(tenant, text: "tenant \(tenant.slug) created: \(tenant.id.lowercased)")
        case ("tenant", "list"):
            try expectWords(2)
            try a.checkNoUnknownOptions()
            let tenants = try await store.listTenants()
            output.emit(tenants, text: tenants.map { "\($0.slug)\t\($0.referencePrefix)\t\($0.id.lowercased)\t\($0.name)" }.joined(separator: "\n"))

        case ("service", "create"):
            try expectWords(2)
            let tenantRef = try a.required("tenant")
            let draft = ServiceDraft(key: try a.required("key"), name: try a.required("name"), leikaKey: try a.optional("leika"),
                                     active: !a.flag("inactive"), documentTrustLevel: try a.optional("document-trust-level"),
                                     retentionDays: try a.int("retention-days"))
            try a.checkNoUnknownOptions()
            try precheck(draft.problemsAsNew(), options: ["leika_key": "leika", "document_trust_level": "document-trust-level", "retention_days": "retention-days"])
            let tenant = try await store.tenant(tenantRef)
            let service = try await store.createService(tenant: tenant.id, draft)
            output.emit(service, text: "service \(service.key) created: \(service.id.lowercased)")
        case ("service", "list"):
            try expectWords(2)
            let tenantRef = try a.required("tenant")
            try a.checkNoUnknownOptions()
            let tenant = try await store.tenant(tenantRef)
            let services = try await store.listServices(tenant: tenant.id)
            output.emit(services, text: services.map { "\($0.key)\t\($0.active ? "active" : "inactive")\t\($0.id.lowercased)\t\($0.name)" }.joined(separator: "\n"))

        case ("area", "create"):
            try expectWords(2)
            let tenantRef = try a.required("tenant")
            let name = try a.required("name")
            let serviceKey = try a.optional("service")
            let rules = try a.all("rule").map(parseRule)
            let memberRefs = a.all("member")
            let fallback = a.flag("fallback")
            try a.checkNoUnknownOptions()
            if serviceKey == nil && !rules.isEmpty { throw UsageError("--rule needs --service") }
            try precheck { () throws(AdminError) in try AdminStore.checkRules(rules) }
            let tenant = try await store.tenant(tenantRef)
            let service = try await serviceKey.asyncMap { try await store.service(tenant: tenant.id, key: $0).id }
            var members: [UUID] = []
            for reference in memberRefs { members.append(try await store.caseworkerID(tenant: tenant.id, reference)) }
            let area = try await store.createArea(tenant: tenant.id, AreaDraft(name: name, serviceID: service, memberIDs: members), rules: rules)
            if fallback { _ = try await store.updateTenant(tenant.id, TenantPatch(fallbackAreaID: .some(area.id))) }
            let stored = try await service.asyncMap { try await store.rules(tenant: tenant.id, service: $0).items.filter { $0.areaID == area.id } } ?? []
            output.emit(AreaOutput(area: area, rules: stored),
                        text: "area \(area.name) created: \(area.id.lowercased) (\(stored.count) rules, \(members.count) members\(fallback ? ", fallback" : ""))")

        case ("caseworker", "create"):
            try expectWords(2)
            let tenantRef = try a.required("tenant")
            let draft = CaseworkerDraft(name: try a.required("name"), email: try a.required("email"),
                                        roles: a.flag("admin") ? ["caseworker", "admin"] : ["caseworker"],
                                        emailNotifications: !a.flag("no-email-notifications"))
            try a.checkNoUnknownOptions()
            try precheck(draft.problems())
            let tenant = try await store.tenant(tenantRef)
            let caseworker = try await store.createCaseworker(tenant: tenant.id, draft)
            output.emit(caseworker, text: "caseworker \(caseworker.email) created: \(caseworker.id.lowercased)")

        case ("token", "create"):
            try expectWords(2)
            let tenantRef = try a.required("tenant"), caseworkerRef = try a.required("caseworker")
            let label = try a.optional("label") ?? ""
            try a.checkNoUnknownOptions()
            let tenant = try await store.tenant(tenantRef)
            let caseworker = try await store.caseworkerID(tenant: tenant.id, caseworkerRef)
            let issued = try await store.createCaseworkerToken(tenant: tenant.id, caseworker: caseworker, label: label)
            output.emit(SecretOutput(id: issued.id, tenantID: tenant.id, caseworkerID: caseworker, name: label, secret: issued.secret, serviceKeys: nil),
                        text: "\(issued.secret)\n(token \(issued.id.lowercased); shown only now, store it safely)")

        case ("intake-client", "create"):
            try expectWords(2)
            let tenantRef = try a.required("tenant")
            let draft = IntakeClientDraft(name: try a.required("name"), serviceKeys: a.all("service").nilIfEmpty)
            try a.checkNoUnknownOptions()
            try precheck(draft.problems(), options: ["service_keys": "service"])
            let tenant = try await store.tenant(tenantRef)
            let issued = try await store.createIntakeClient(tenant: tenant.id, draft)
            output.emit(SecretOutput(id: issued.id, tenantID: tenant.id, caseworkerID: nil, name: draft.name, secret: issued.secret, serviceKeys: draft.serviceKeys),
                        text: "\(issued.secret)\n(intake client \(issued.id.lowercased); shown only now, store it safely)")

        case ("template", let verb?) where ["list", "set", "reset"].contains(verb):
            try expectWords(2)
            try await template(verb, &a, store: store, output: output)

        case ("dead-letters", "list"):
            try expectWords(2)
            let tenantRef = try a.optional("tenant")
            let queue = try a.optional("queue").map { name -> QueueName in
                do { return try QueueName(name) } catch { throw UsageError("--queue: \(error)") }
            }
            let limit = try a.int("limit") ?? 100
            try a.checkNoUnknownOptions()
            let tenant = try await tenantRef.asyncMap { try await store.tenant($0).id }
            let letters = try await store.deadLetters(tenant: tenant, queue: queue, limit: limit)
            output.emit(letters, text: letters.map(\.letter).map { "\($0.id)\t\($0.queue)\t\($0.attempts) attempts\t\($0.diedAt)\t\($0.lastError)" }.joined(separator: "\n"))
        case ("dead-letters", let verb?) where verb == "replay" || verb == "purge":
            var ids = try a.all("id").map { text -> Int64 in
                guard let id = Int64(text) else { throw UsageError("--id must be a number") }
                return id
            }
            for word in words.dropFirst(2) {
                guard let id = Int64(word) else { throw UsageError("unexpected argument '\(word)'") }
                ids.append(id)
            }
            guard !ids.isEmpty else { throw UsageError("dead-letters \(verb) needs at least one --id") }
            let tenantRef = try a.optional("tenant")
            try a.checkNoUnknownOptions()
            let tenant = try await tenantRef.asyncMap { try await store.tenant($0).id }
            if verb == "replay" {
                let jobs = try await store.replayDeadLetters(tenant: tenant, ids: ids)
                output.emit(["replayed_job_ids": jobs], text: "replayed \(jobs.count) of \(ids.count)")
            } else {
                let count = try await store.purgeDeadLetters(tenant: tenant, ids: ids)
                output.emit(["purged": count], text: "purged \(count) of \(ids.count)")
            }

        case (let command?, let sub):
            if ["tenant", "service", "area", "caseworker", "token", "intake-client", "template", "dead-letters"].contains(command) {
                throw UsageError(sub.map { "unknown subcommand '\(command) \($0)'" } ?? "'\(command)' needs a subcommand")
            }
            throw UsageError("unknown command '\(command)'")
        case (nil, _):
            throw UsageError("no command")
        }
    }

    static func template(_ verb: String, _ a: inout Arguments, store: AdminStore, output: Output) async throws {
        let tenantRef = try a.required("tenant")
        let locale = try a.optional("locale")
        switch verb {
        case "list":
            try a.checkNoUnknownOptions()
            let tenant = try await store.tenant(tenantRef)
            let templates = try await store.notificationTemplates(tenant: tenant.id, locale: locale)
            output.emit(templates, text: templates.map { "\($0.kind)\t\($0.isDefault ? "default" : "tenant")\t\($0.locale)\t\($0.subject)" }.joined(separator: "\n"))
        case "set":
            let kind = try a.required("kind"), subject = try a.required("subject")
            let body: String
            switch (try a.optional("body"), try a.optional("body-file")) {
            case (let text?, nil): body = text
            case (nil, let path?):
                guard let data = FileManager.default.contents(atPath: path) else { throw UsageError("--body-file names a file that cannot be read") }
                body = String(decoding: data, as: UTF8.self)
            default: throw UsageError("template set needs one of --body and --body-file")
            }
            try a.checkNoUnknownOptions()
            try precheck { () throws(AdminError) in try AdminStore.checkTemplate(kind: kind, locale: locale, subject: subject, body: body) }
            let tenant = try await store.tenant(tenantRef)
            let template = try await store.setNotificationTemplate(tenant: tenant.id, kind: kind, locale: locale, subject: subject, body: body)
            output.emit(template, text: "template \(template.kind) (\(template.locale)) set")
        default:
            let kind = try a.required("kind")
            try a.checkNoUnknownOptions()
            let tenant = try await store.tenant(tenantRef)
            let template = try await store.resetNotificationTemplate(tenant: tenant.id, kind: kind, locale: locale)
            output.emit(template, text: "template \(template.kind) reset: the \(template.isDefault ? "default" : "tenant's \(template.locale) text") applies")
        }
    }

    /// The store's refusal of an argument as a usage error, naming the option.
    static func precheck(_ check: () throws(AdminError) -> Void, options: [String: String] = [:]) throws {
        do { try check() } catch {
            guard !error.fieldErrors.isEmpty else { throw UsageError(error.message) }
            throw UsageError(error.fieldErrors.map { problem in
                var field = problem.field
                if field.hasPrefix("rules["), let close = field.firstIndex(of: "]"), let index = Int(field.dropFirst(6).prefix(while: { $0 != "]" })) {
                    let rest = field[field.index(after: close)...].drop { $0 == "." }
                    field = "--rule \(index + 1)" + (rest.isEmpty ? "" : " " + rest)
                } else {
                    field = "--" + (options[field] ?? field)
                }
                return "\(field): \(problem.message)"
            }.joined(separator: "; "))
        }
    }

    static func precheck(_ errors: [AdminError.FieldError], options: [String: String] = [:]) throws {
        try precheck({ () throws(AdminError) in if !errors.isEmpty { throw AdminError.invalid(errors) } }, options: options)
    }

    /// `--rule` as a draft: `KIND=V1,V2`, `form_field:PATH=V1,V2`, `default`, or `KIND={JSON}` for any
    /// definition. Only the syntax is read here; the store checks the rule with routing's parser.
    static func parseRule(_ text: String) throws -> RuleDraft {
        if text == "default" { return RuleDraft(kind: "default", definition: [:]) }
        guard let eq = text.firstIndex(of: "=") else { throw UsageError("--rule '\(text.prefix(60))': expected KIND=VALUES, KIND={JSON} or default") }
        var kind = String(text[..<eq])
        let rest = String(text[text.index(after: eq)...])
        if rest.hasPrefix("{") {
            do { return RuleDraft(kind: kind, definition: try JSONValue.parse(rest)) } catch {
                throw UsageError("--rule '\(kind)': the definition is not JSON")
            }
        }
        let values = rest.split(separator: ",", omittingEmptySubsequences: false).map { JSONValue.string(String($0)) }
        if kind.hasPrefix("form_field:") {
            let field = String(kind.dropFirst("form_field:".count))
            kind = "form_field"
            return RuleDraft(kind: kind, definition: ["field": .string(field), "values": .array(values)])
        }
        return RuleDraft(kind: kind, definition: ["values": .array(values)])
    }
}

/// `area create`'s answer: the area and the rules it got.
struct AreaOutput: Encodable {
    var area: Area
    var rules: [ServiceRule]

    enum CodingKeys: String, CodingKey { case rules }

    func encode(to encoder: Encoder) throws {
        try area.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rules, forKey: .rules)
    }
}

/// A secret just issued (token or intake client key), as the CLI has always printed it.
struct SecretOutput: Encodable {
    var id: UUID
    var tenantID: UUID
    var caseworkerID: UUID?
    var name: String
    var secret: String
    var serviceKeys: [String]?

    enum CodingKeys: String, CodingKey {
        case id, name, secret
        case tenantID = "tenant_id"
        case caseworkerID = "caseworker_id"
        case serviceKeys = "service_keys"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id.lowercased, forKey: .id)
        try c.encode(tenantID.lowercased, forKey: .tenantID)
        try c.encodeIfPresent(caseworkerID?.lowercased, forKey: .caseworkerID)
        try c.encode(name, forKey: .name)
        try c.encode(secret, forKey: .secret)
        try c.encodeIfPresent(serviceKeys, forKey: .serviceKeys)
    }
}

extension Array {
    var nilIfEmpty: [Element]? { isEmpty ? nil : self }
}
