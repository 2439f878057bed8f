import FoundationEssentials
import ServiceRuntime

/// Builds the sandbox executable's services.
public enum SandboxService {
    /// The process environment; the sandbox needs no database, so `DATABASE_URL` gets a
    /// placeholder when unset (the runtime requires one).
    public static func environment() -> Environment {
        var values = ProcessInfo.processInfo.environment
        if (values["DATABASE_URL"] ?? "").isEmpty && (values["DATABASE_URL_FILE"] ?? "").isEmpty {
            values["DATABASE_URL"] = "postgres://unused@localhost/unused"
        }
        return Environment(values)
    }

    public static func makeServices(_ runtime: ServiceRuntime, environment: Environment = environment()) throws -> [any Service] {
        let sandbox = Sandbox(configuration: try SandboxConfiguration(environment: environment))
        var router = runtime.makeRouter()
        sandbox.register(on: &router)
        runtime.logger.info("postbox sandbox ready (in-memory)", [
            "auth": sandbox.configuration.requireAuth ? "on" : "off",
            "client": sandbox.configuration.clientID ?? "(any)",
            "fault_500_rate": String(sandbox.faults.serverErrorRate),
            "fault_429_rate": String(sandbox.faults.rateLimitRate),
            "fault_drop_rate": String(sandbox.faults.dropRate),
        ])
        return [runtime.httpService(router: router, readiness: { .ready }, adjust: { $0.limits.maxBodyBytes = 64 << 20 })]
    }
}
