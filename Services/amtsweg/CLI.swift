import Domain
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import JobQueue
import Logging
import Postgres
import Schema

enum CLI {
    static let usage = """
        usage: amtsweg [--database-url URL] [--json] <command> [options]

        The database comes from --database-url, DATABASE_URL or DATABASE_URL_FILE.
        --json prints machine-readable JSON on stdout. Exit status: 0 ok, 1 failed, 2 bad arguments.

        commands:
          migrate [--status]
          tenant create --slug SLUG --name NAME --prefix PREFIX [--municipality-key AGS] [--decisions-via-back-channel]
          tenant list
          service create --tenant T --key KEY --name NAME [--leika 14DIGITS] [--document-trust-level basic|substantial|high]
                         [--retention-days N] [--inactive]
          service list --tenant T
          area create --tenant T --name NAME [--service KEY] [--rule RULE]... [--member EMAIL|ID]... [--fallback]
                RULE: municipality_keys=05370016,05370004 | postal_codes=52525,5253 | form_field:PATH=V1,V2 | default
                --fallback makes the area the tenant's fallback area.
          caseworker create --tenant T --name NAME --email EMAIL [--admin] [--no-email-notifications]
          token create --tenant T --caseworker EMAIL|ID [--label TEXT]        prints the token once
          intake-client create --tenant T --name NAME [--service KEY]...      prints the key once
          dead-letters list [--tenant T] [--queue Q] [--limit N]
          dead-letters replay|purge --id N [--id N]... [--tenant T]

        T is a tenant's slug or id.
        """

    static func run(_ words: [String]) async -> Int32 {
        var arguments: Arguments
        do { arguments = try Arguments(words) } catch {
            return fail(usage: "\(error)")
        }
        if arguments.flag("help") || arguments.positional.first == "help" || arguments.positional.isEmpty {
            print(usage)
            return arguments.positional.isEmpty && !arguments.flag("help") ? 2 : 0
        }
        let json = arguments.flag("json")
        let url: String
        do {
            url = try databaseURL(try arguments.optional("database-url"))
        } catch {
            return fail(usage: "\(error)")
        }
        let logger = Logger(service: "amtsweg", minimumLevel: .warning, sink: StandardErrorSink())
        let pool = PostgresPool(
            configuration: PostgresConfiguration(url: url, applicationName: "amtsweg"),
            pool: PostgresPoolConfiguration(maxConnections: 2), logger: logger
        )
        defer { Task { await pool.close() } }
        let output = Output(json: json)
        do {
            try await dispatch(&arguments, pool: pool, logger: logger, output: output)
            await pool.close()
            return 0
        } catch let error as UsageError {
            await pool.close()
            return fail(usage: error.description)
        } catch let error as AdminError {
            await pool.close()
            return fail(error.description, json: json, code: error.code.rawValue)
        } catch let error as PostgresError {
            await pool.close()
            return fail("database error: \(error)", json: json, code: "database")
        } catch {
            await pool.close()
            return fail("\(error)", json: json, code: "error")
        }
    }

    static func databaseURL(_ option: String?) throws -> String {
        if let option { return option }
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["DATABASE_URL"], !url.isEmpty { return url }
        if let path = environment["DATABASE_URL_FILE"], !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else { throw UsageError("DATABASE_URL_FILE names a file that cannot be read") }
            let text = String(decoding: data, as: UTF8.self)
            return String(String(text.drop(while: \.isWhitespace).reversed()).drop(while: \.isWhitespace).reversed())
        }
        throw UsageError("no database: set DATABASE_URL or pass --database-url")
    }

    static func dispatch(_ a: inout Arguments, pool: PostgresPool, logger: Logger, output: Output) async throws {
        let words = a.positional
        let store = AdminStore(pool: pool)
        func expectWords(_ count: Int) throws {
            if words.count > count { throw UsageError("unexpected argument '\(words[count])'") }
        }
        switch (words.first, words.dropFirst().first) {
        case ("migrate", _):
            try expectWords(1)
            let statusOnly = a.flag("status")
            try a.checkNoUnknownOptions()
            let migrator = Migrator(logger: logger)
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
            let key = try a.required("key"), name = try a.required("name")
            let leika = try a.optional("leika")
            if let leika, !(leika.utf8.count == 14 && leika.utf8.allSatisfy { (48...57).contains($0) }) {
                throw UsageError("--leika must be 14 digits")
            }
            var trust = TrustLevel.substantial
            if let text = try a.optional("document-trust-level") {
                guard let level = TrustLevel(rawValue: text) else { throw UsageError("--document-trust-level must be basic, substantial or high") }
                trust = level
            }
            let retention = try a.int("retention-days") ?? 365
            guard (1...36500).contains(retention) else { throw UsageError("--retention-days must be between 1 and 36500") }
            let inactive = a.flag("inactive")
            try a.checkNoUnknownOptions()
            let tenant = try await store.tenant(tenantRef)
            let service = try await store.createService(tenant: tenant.id, key: key, name: name, leikaKey: leika, active: !inactive,
                                                        documentTrustLevel: trust, retentionDays: retention)
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
            let tenant = try await store.tenant(tenantRef)
            let service = try await serviceKey.asyncMap { try await store.service(tenant: tenant.id, key: $0).id }
            var members: [UUID] = []
            for reference in memberRefs { members.append(try await store.caseworker(tenant: tenant.id, reference)) }
            let area = try await store.createArea(tenant: tenant.id, service: service, name: name, rules: rules, members: members)
            if fallback { try await store.setFallbackArea(tenant: tenant.id, area: area.id) }
            output.emit(area, text: "area \(area.name) created: \(area.id.lowercased) (\(rules.count) rules, \(members.count) members\(fallback ? ", fallback" : ""))")

        case ("caseworker", "create"):
            try expectWords(2)
            let tenantRef = try a.required("tenant")
            let name = try a.required("name"), email = try a.required("email")
            let admin = a.flag("admin")
            let noMail = a.flag("no-email-notifications")
            try a.checkNoUnknownOptions()
            let tenant = try await store.tenant(tenantRef)
            let caseworker = try await store.createCaseworker(tenant: tenant.id, name: name, email: email,
                                                              roles: admin ? [.caseworker, .admin] : [.caseworker], emailNotifications: !noMail)
            output.emit(caseworker, text: "caseworker \(caseworker.email) created: \(caseworker.id.lowercased)")

        case ("token", "create"):
            try expectWords(2)
            let tenantRef = try a.required("tenant"), caseworkerRef = try a.required("caseworker")
            let label = try a.optional("label") ?? ""
            try a.checkNoUnknownOptions()
            let tenant = try await store.tenant(tenantRef)
            let caseworker = try await store.caseworker(tenant: tenant.id, caseworkerRef)
            let issued = try await store.createCaseworkerToken(tenant: tenant.id, caseworker: caseworker, label: label)
            output.emit(issued, text: "\(issued.secret)\n(token \(issued.id.lowercased); shown only now, store it safely)")

        case ("intake-client", "create"):
            try expectWords(2)
            let tenantRef = try a.required("tenant")
            let name = try a.required("name")
            let services = a.all("service")
            try a.checkNoUnknownOptions()
            let tenant = try await store.tenant(tenantRef)
            let issued = try await store.createIntakeClient(tenant: tenant.id, name: name, serviceKeys: services.isEmpty ? nil : services)
            output.emit(issued, text: "\(issued.secret)\n(intake client \(issued.id.lowercased); shown only now, store it safely)")

        case ("dead-letters", "list"):
            try expectWords(2)
            let tenantRef = try a.optional("tenant")
            let queue = try a.optional("queue").map { name -> QueueName in
                do { return try QueueName(name) } catch { throw UsageError("--queue: \(error)") }
            }
            let limit = try a.int("limit") ?? 100
            try a.checkNoUnknownOptions()
            let tenant = try await tenantRef.asyncMap { try await store.tenant($0).id }
            let queueAdmin = JobQueue(pool: pool, notifier: nil)
            let letters = try await queueAdmin.deadLetters(queue: queue, tenantID: tenant, limit: limit)
            let views = letters.map(DeadLetterView.init)
            output.emit(views, text: views.map { "\($0.id)\t\($0.queue)\t\($0.attempts) attempts\t\($0.diedAt)\t\($0.lastError)" }.joined(separator: "\n"))
        case ("dead-letters", let verb?) where verb == "replay" || verb == "purge":
            let extra = words.dropFirst(2)
            var ids = try a.all("id").map { text -> Int64 in
                guard let id = Int64(text) else { throw UsageError("--id must be a number") }
                return id
            }
            for word in extra {
                guard let id = Int64(word) else { throw UsageError("unexpected argument '\(word)'") }
                ids.append(id)
            }
            guard !ids.isEmpty else { throw UsageError("dead-letters \(verb) needs at least one --id") }
            let tenantRef = try a.optional("tenant")
            try a.checkNoUnknownOptions()
            let tenant = try await tenantRef.asyncMap { try await store.tenant($0).id }
            let queueAdmin = JobQueue(pool: pool, notifier: nil)
            if verb == "replay" {
                let jobs = try await queueAdmin.replay(deadLetterIDs: ids, tenantID: tenant)
                try await Audit.record(AuditEntry(tenantID: tenant, actorKind: .operator, action: "dead_letter.replay", objectKind: "dead_letter",
                                                  details: ["count": String(jobs.count)]), pool: pool)
                output.emit(["replayed_job_ids": jobs], text: "replayed \(jobs.count) of \(ids.count)")
            } else {
                let count = try await queueAdmin.purge(deadLetterIDs: ids, tenantID: tenant)
                try await Audit.record(AuditEntry(tenantID: tenant, actorKind: .operator, action: "dead_letter.purge", objectKind: "dead_letter",
                                                  details: ["count": String(count)]), pool: pool)
                output.emit(["purged": count], text: "purged \(count) of \(ids.count)")
            }

        case (let command?, let sub):
            if ["tenant", "service", "area", "caseworker", "token", "intake-client", "dead-letters"].contains(command) {
                throw UsageError(sub.map { "unknown subcommand '\(command) \($0)'" } ?? "'\(command)' needs a subcommand")
            }
            throw UsageError("unknown command '\(command)'")
        case (nil, _):
            throw UsageError("no command")
        }
    }

    /// `municipality_keys=05370016,05370004`, `postal_codes=525`, `form_field:district=Nord,Süd`, `default`.
    static func parseRule(_ text: String) throws -> AreaRule {
        if text == "default" { return AreaRule(kind: .default) }
        guard let eq = text.firstIndex(of: "=") else { throw UsageError("--rule '\(text)': expected KIND=VALUES or default") }
        let head = String(text[..<eq])
        let values = text[text.index(after: eq)...].split(separator: ",").map(String.init)
        guard !values.isEmpty else { throw UsageError("--rule '\(text)': no values") }
        switch head {
        case "municipality_keys":
            guard values.allSatisfy({ $0.utf8.count == 8 && $0.utf8.allSatisfy { (48...57).contains($0) } }) else {
                throw UsageError("--rule municipality_keys: each value must be an 8-digit municipality key (AGS)")
            }
            return AreaRule(kind: .municipalityKeys, values: values)
        case "postal_codes":
            guard values.allSatisfy({ (1...5).contains($0.utf8.count) && $0.utf8.allSatisfy { (48...57).contains($0) } }) else {
                throw UsageError("--rule postal_codes: each value must be 1 to 5 digits (a postal code or its prefix)")
            }
            return AreaRule(kind: .postalCodes, values: values)
        default:
            if head.hasPrefix("form_field:") {
                let field = String(head.dropFirst("form_field:".count))
                guard !field.isEmpty else { throw UsageError("--rule form_field: needs a field path, e.g. form_field:district=Nord") }
                return AreaRule(kind: .formField, values: values, field: field)
            }
            throw UsageError("--rule '\(head)': kind must be municipality_keys, postal_codes, form_field:PATH or default")
        }
    }

    static func fail(usage message: String) -> Int32 {
        writeError("amtsweg: \(message)\nRun 'amtsweg help' for usage.\n")
        return 2
    }

    static func fail(_ message: String, json: Bool, code: String) -> Int32 {
        if json {
            print("{\"error\":{\"code\":\(quoted(code)),\"message\":\(quoted(message))}}")
        }
        writeError("amtsweg: \(message)\n")
        return 1
    }

    static func quoted(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}

struct MigrateStatus: Encodable {
    var applied: [Int]
    var latest: Int
    var current: Bool
}

struct DeadLetterView: Encodable {
    var id: Int64
    var jobID: Int64
    var queue: String
    var tenantID: String?
    var attempts: Int
    var lastError: String
    var createdAt: Date
    var diedAt: Date

    init(_ letter: DeadLetter) {
        id = letter.id
        jobID = letter.jobID
        queue = letter.queue.rawValue
        tenantID = letter.tenantID?.lowercased
        attempts = letter.attempts
        lastError = letter.lastError
        createdAt = letter.createdAt
        diedAt = letter.diedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, queue, attempts
        case jobID = "job_id"
        case tenantID = "tenant_id"
        case lastError = "last_error"
        case createdAt = "created_at"
        case diedAt = "died_at"
    }
}

struct Output {
    var json: Bool

    func emit<T: Encodable>(_ value: T, text: @autoclosure () -> String) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            if let data = try? encoder.encode(value) { print(String(decoding: data, as: UTF8.self)) }
        } else {
            let line = text()
            if !line.isEmpty { print(line) }
        }
    }
}

struct StandardErrorSink: LogSink {
    func write(line: String) { writeError(line + "\n") }
}

func writeError(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
}

extension UUID {
    var lowercased: String { uuidString.lowercased() }
}

extension Optional {
    func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
