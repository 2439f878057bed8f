import HTTPServer
import Metrics

/// One readiness check's result.
public struct ReadinessCheck: Sendable, Equatable {
    public var name: String
    public var isReady: Bool
    /// Why it is not ready; shown on `/readyz`, so no secrets.
    public var detail: String?

    public init(name: String, isReady: Bool, detail: String? = nil) {
        self.name = name
        self.isReady = isReady
        self.detail = detail
    }
}

/// The answer of `/readyz`: ready when every check is.
public struct ReadinessReport: Sendable, Equatable {
    public var checks: [ReadinessCheck]

    public init(checks: [ReadinessCheck]) { self.checks = checks }

    /// Ready with no checks (a process without dependencies).
    public static let ready = ReadinessReport(checks: [])

    public var isReady: Bool { checks.allSatisfy(\.isReady) }
}

/// Produces the readiness report; services plug in "database reachable" and "schema current".
public typealias ReadinessProbe = @Sendable () async -> ReadinessReport

extension Router {
    /// Adds `/healthz` (process up: always 200), `/readyz` (200 or 503 from `readiness`) and
    /// `/metrics` (Prometheus text from `metrics`).
    public mutating func addOperationalRoutes(metrics: MetricsRegistry, readiness: @escaping ReadinessProbe) {
        get("/healthz") { _ in
            HTTPResponse(status: .ok, headers: ["Content-Type": "application/json", "Cache-Control": "no-store"],
                         body: Array(#"{"status":"ok"}"#.utf8))
        }
        get("/readyz") { _ in
            let report = await readiness()
            var json = #"{"status":"# + (report.isReady ? #""ready""# : #""not-ready""#) + #","checks":{"#
            for (index, check) in report.checks.enumerated() {
                if index > 0 { json += "," }
                json += jsonString(check.name) + ":" + jsonString(check.isReady ? "ok" : (check.detail ?? "failed"))
            }
            json += "}}"
            return HTTPResponse(status: report.isReady ? .ok : .serviceUnavailable,
                                headers: ["Content-Type": "application/json", "Cache-Control": "no-store"],
                                body: Array(json.utf8))
        }
        get("/metrics") { _ in
            HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                         body: Array(await metrics.render().utf8))
        }
    }
}

private func jsonString(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return "\"" + out + "\""
}
