import Foundation
import HTTPTestSupport
import HTTPServer
import Logging
import Metrics
import ServiceRuntime
import Synchronization
import Testing

@Suite struct OperationalRoutesTests {
    final class ReadinessSwitch: Sendable {
        let ready = Mutex(true)
    }

    func withRuntimeServer(readiness: @escaping ReadinessProbe, _ body: (Int) async throws -> Void) async throws {
        let configuration = try ServiceConfiguration(serviceName: "ops-test", defaultPort: 0, environment: Environment([
            "HTTP_HOST": "127.0.0.1", "DATABASE_URL": "postgres://u:p@localhost/db",
        ]))
        let runtime = ServiceRuntime(configuration: configuration, logSink: MemoryLogSink())
        var router = runtime.makeRouter()
        router.get("/v1/items/:id") { context in .text("item \(try context.parameter("id"))") }
        let service = runtime.httpService(router: router, readiness: readiness)
        try service.server.start()
        let port = try #require(service.server.port)
        do {
            try await body(port)
        } catch {
            await service.server.shutdown()
            throw error
        }
        await service.server.shutdown()
    }

    func get(_ port: Int, _ path: String) async throws -> RawClient.Response {
        try await offPool {
            let client = try RawClient(port: port)
            try client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
            return try client.readResponse()
        }
    }

    @Test func healthAndReadiness() async throws {
        let readiness = ReadinessSwitch()
        try await withRuntimeServer(readiness: {
            readiness.ready.withLock { $0 }
                ? ReadinessReport(checks: [.init(name: "database", isReady: true), .init(name: "schema", isReady: true)])
                : ReadinessReport(checks: [.init(name: "database", isReady: true), .init(name: "schema", isReady: false, detail: "migration 7 pending")])
        }) { port in
            let health = try await get(port, "/healthz")
            #expect(health.status == 200)
            #expect(health.bodyText == #"{"status":"ok"}"#)
            let ready = try await get(port, "/readyz")
            #expect(ready.status == 200)
            #expect(ready.bodyText == #"{"status":"ready","checks":{"database":"ok","schema":"ok"}}"#)
            readiness.ready.withLock { $0 = false }
            let notReady = try await get(port, "/readyz")
            #expect(notReady.status == 503)
            #expect(notReady.bodyText == #"{"status":"not-ready","checks":{"database":"ok","schema":"migration 7 pending"}}"#)
        }
    }

    /// Parsed with the reference parser, `prometheus_client` from PyPI.
    static let parser = #"""
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = {"type": family.type, "samples": [[s.name, s.labels, s.value] for s in family.samples]}
print(json.dumps(families))
"""#

    @Test func metricsParseAsPrometheusText() async throws {
        try await withRuntimeServer(readiness: { .ready }) { port in
            for id in 1...3 { _ = try await get(port, "/v1/items/\(id)") }
            _ = try await get(port, "/nothing")
            let metrics = try await get(port, "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")

            let parsed = try await runProcess(toolPath("python3"), ["-c", Self.parser], input: metrics.bodyText)
            #expect(parsed.status == 0, "prometheus_client could not parse /metrics: \(parsed.stderr)")
            let families = try #require(JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [String: [String: Any]])

            // prometheus_client strips the _total suffix from counter family names.
            let requests = try #require(families["http_requests"])
            #expect(requests["type"] as? String == "counter")
            let samples = try #require(requests["samples"] as? [[Any]])
            let itemSample = samples.first { ($0[1] as? [String: String]) == ["method": "GET", "route": "/v1/items/:id", "status": "200"] }
            #expect(itemSample?[2] as? Double == 3)
            #expect(samples.contains { ($0[1] as? [String: String])?["route"] == "unmatched" && ($0[1] as? [String: String])?["status"] == "404" })

            let latency = try #require(families["http_request_duration_seconds"])
            #expect(latency["type"] as? String == "histogram")
            #expect(families["http_server_open_connections"]?["type"] as? String == "gauge")
            #expect(families["process_resident_memory_bytes"] != nil)
        }
    }
}
