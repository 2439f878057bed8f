import HTTPServer
import Metrics

/// One readiness check's result.
public struct ReadinessCheck: Sendable, Equatable {
    public enum State: String, Sendable {
        case ok
        /// A dependency the service cannot do its job without (the SMTP relay, the postbox API) is
        /// away: its work waits on the queue, but the service itself is ready (`/readyz` stays 200,
        /// so an orchestrator does not restart or unroute it for someone else's outage).
        case degraded
        /// Not ready: `/readyz` answers 503.
        case failed
    }

    public var name: String
    public var state: State
    /// Why it is degraded or not ready; shown on `/readyz`, so no secrets.
    public var detail: String?

    public var isReady: Bool { state != .failed }

    public init(name: String, state: State, detail: String? = nil) {
        self.name = name
        self.state = state
        self.detail = detail
    }

    public init(name: String, isReady: Bool, detail: String? = nil) {
        self.init(name: name, state: isReady ? .ok : .failed, detail: detail)
    }
}

/// The answer of `/readyz`: ready when no check failed; `degraded` (still ready) when one is.
public struct ReadinessReport: Sendable, Equatable {
    public var checks: [ReadinessCheck]

    public init(checks: [ReadinessCheck]) { self.checks = checks }

    /// Ready with no checks (a process without dependencies).
    public static let ready = ReadinessReport(checks: [])

    public var isReady: Bool { checks.allSatisfy(\.isReady) }

    public var isDegraded: Bool { checks.contains { $0.state == .degraded } }

    /// This report with `more` checks after its own.
    public func adding(_ more: [ReadinessCheck]) -> ReadinessReport {
        ReadinessReport(checks: checks + more)
    }
}

/// Produces the readiness report; services plug in "database reachable" and "schema current".
public typealias ReadinessProbe = @Sendable () async -> ReadinessReport

extension Router {
    /// Adds `/healthz` (process up: always 200), `/readyz` (200 or 503 from `readiness`) and
    /// `/metrics` (Prometheus text from `metrics`). `/readyz` reads
    /// `{"status":"ready"|"degraded"|"not-ready","checks":{"database":"ok","smtp":"degraded: …"}}`.
    public mutating func addOperationalRoutes(metrics: MetricsRegistry, readiness: @escaping ReadinessProbe) {
        get("/healthz") { _ in
            HTTPResponse(status: .ok, headers: ["Content-Type": "application/json", "Cache-Control": "no-store"],
                         body: Array(#"{"status":"ok"}"#.utf8))
        }
        get("/readyz") { _ in
            let report = await readiness()
            let status = !report.isReady ? "not-ready" : report.isDegraded ? "degraded" : "ready"
            var json = #"{"status":"# + jsonString(status) + #","checks":{"#
            for (index, check) in report.checks.enumerated() {
                if index > 0 { json += "," }
                let text = switch check.state {
                case .ok: "ok"
                case .degraded: "degraded" + (check.detail.map { ": " + $0 } ?? "")
                case .failed: check.detail ?? "failed"
                }
                json += jsonString(check.name) + ":" + jsonString(text)
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
