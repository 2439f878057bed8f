import Administration
import Domain
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import JobQueue
import Logging
import Postgres
import Schema
import ServiceRuntime
import ServiceWiring

enum CLI {
    static let usage = """
        usage: amtsweg [--database-url URL] [--json] <command> [options]

        The database comes from --database-url, MIGRATION_DATABASE_URL(_FILE) (the schema owner),
        or DATABASE_URL(_FILE). migrate grants DATABASE_SERVICE_ROLE (default amtsweg_service) its privileges.
        --json prints machine-readable JSON on stdout. Exit status: 0 ok, 1 failed, 2 bad arguments.

        commands:
          migrate [--status]
          tenant create --slug SLUG --name NAME --prefix PREFIX [--municipality-key AGS] [--decisions-via-back-channel]
          tenant list
          service create --tenant T --key KEY --name NAME [--leika 14DIGITS] [--document-trust-level basic|substantial|high]
                         [--retention-days N] [--inactive]
          service list --tenant T
          area create --tenant T --name NAME [--service KEY] [--rule RULE]... [--member EMAIL|ID]... [--fallback]
                RULE: municipality_keys=05370016,05370004 | postal_codes=52525,5253,52500-52599 | form_field:PATH=V1,V2
                      | default | KIND={JSON definition}, e.g. form_field={"field": "vehicle.kind", "values": ["truck", 3]}
                Rules are appended after the service's rules and checked as routing reads them.
                --fallback makes the area the tenant's fallback area.
          caseworker create --tenant T --name NAME --email EMAIL [--admin] [--no-email-notifications]
          token create --tenant T --caseworker EMAIL|ID [--label TEXT]        prints the token once
          intake-client create --tenant T --name NAME [--service KEY]...      prints the key once
          template list --tenant T [--locale L]
          template set --tenant T --kind KIND --subject TEXT (--body TEXT | --body-file PATH) [--locale L]
          template reset --tenant T --kind KIND [--locale L]
                KIND: email.new_application | email.applicant_replied | email.delivery_failed | citizen.status.STATUS
                L: the tenant's locale when left out
          dead-letters list [--tenant T] [--queue Q] [--limit N]             audited
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
        let settings: MigrationSettings
        do {
            settings = try MigrationSettings(environment: Environment())
            url = try databaseURL(try arguments.optional("database-url"), settings: settings)
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
            try await dispatch(&arguments, pool: pool, serviceRole: settings.serviceRole, logger: logger, output: output)
            await pool.close()
            return 0
        } catch let error as UsageError {
            await pool.close()
            return fail(usage: error.description)
        } catch let error as AdminError {
            await pool.close()
            return fail(error.description, json: json, code: error.kind.rawValue)
        } catch let error as PostgresError {
            await pool.close()
            return fail("database error: \(error)", json: json, code: "database")
        } catch {
            await pool.close()
            return fail("\(error)", json: json, code: "error")
        }
    }

    /// The database: `--database-url`, else the owner's `MIGRATION_DATABASE_URL(_FILE)`, else
    /// `DATABASE_URL(_FILE)` (a development database with one role; `migrate` refuses a role that
    /// does not own the schema).
    static func databaseURL(_ option: String?, settings: MigrationSettings) throws -> String {
        if let option { return option }
        if let url = settings.databaseURL { return url }
        if let url = try Environment().optionalSecret("DATABASE_URL") { return url }
        throw UsageError("no database: set MIGRATION_DATABASE_URL (the schema owner's URL) or pass --database-url")
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


extension Optional {
    func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
