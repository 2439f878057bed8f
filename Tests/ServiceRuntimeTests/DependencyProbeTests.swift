import HTTPServer
import HTTPTestSupport
import Logging
import ServiceRuntime
import Testing

extension OperationalRoutesTests {
    @Test("endpoint of a URL: host, port, the scheme's default port; nil for a spool")
    func dependencyEndpoints() {
        #expect(DependencyProbe.endpoint(ofURL: "smtp://mailcatcher:1025") == .init(host: "mailcatcher", port: 1025))
        #expect(DependencyProbe.endpoint(ofURL: "smtps://relay.kreis.example") == .init(host: "relay.kreis.example", port: 465))
        #expect(DependencyProbe.endpoint(ofURL: "SMTP://relay") == .init(host: "relay", port: 25))
        #expect(DependencyProbe.endpoint(ofURL: "https://user@[::1]:8443/api?x=1") == .init(host: "::1", port: 8443))
        #expect(DependencyProbe.endpoint(ofURL: "http://servicekonto-sandbox:8090/oauth/token") == .init(host: "servicekonto-sandbox", port: 8090))
        #expect(DependencyProbe.endpoint(ofURL: "https://postfach.example/api") == .init(host: "postfach.example", port: 443))
        #expect(DependencyProbe.endpoint(ofURL: "file:///var/spool/mail") == nil)
        #expect(DependencyProbe.endpoint(ofURL: "smtp://relay:99999") == nil)
        #expect(DependencyProbe.endpoint(ofURL: "relay:25") == nil)
    }

    /// A real listener as the dependency: `/readyz` of a second server shows it ok while it listens,
    /// degraded (still 200, the database check untouched) once it is gone, and 503 only when the
    /// database check fails.
    @Test("/readyz: a dependency that cannot be reached is degraded, not a failure")
    func degradedDependency() async throws {
        let logger = Logger(service: "dependency", sink: MemoryLogSink())
        let dependency = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), logger: logger, responder: Router(logger: logger))
        try dependency.start()
        let port = try #require(dependency.port)
        let endpoint = DependencyProbe.Endpoint(host: "127.0.0.1", port: port)
        // interval zero: every /readyz connects again.
        let probe = DependencyProbe(name: "postbox", endpoints: [endpoint], interval: .zero)
        let database = ReadinessSwitch()
        try await withRuntimeServer(readiness: {
            let databaseUp = database.ready.withLock { $0 }
            return ReadinessReport(checks: [.init(name: "database", isReady: databaseUp, detail: "database not reachable")])
                .adding([await probe.check()])
        }) { port in
            let ready = try await get(port, "/readyz")
            #expect(ready.status == 200)
            #expect(ready.bodyText == #"{"status":"ready","checks":{"database":"ok","postbox":"ok"}}"#)

            await dependency.shutdown()
            let degraded = try await get(port, "/readyz")
            #expect(degraded.status == 200)
            #expect(degraded.bodyText == #"{"status":"degraded","checks":{"database":"ok","postbox":"degraded: cannot connect to \#(endpoint) (Connection refused)"}}"#)

            database.ready.withLock { $0 = false }
            let notReady = try await get(port, "/readyz")
            #expect(notReady.status == 503)
            #expect(notReady.bodyText.hasPrefix(#"{"status":"not-ready","checks":{"database":"database not reachable","postbox":"degraded: "#))
        }
    }

    @Test("a host name that does not resolve is degraded, and the result is kept for the interval")
    func unresolvableDependency() async throws {
        let probe = DependencyProbe(name: "smtp", endpoints: [.init(host: "no-such-relay.invalid", port: 25)], interval: .seconds(60))
        let first = await probe.check()
        #expect(first.state == .degraded)
        #expect(first.isReady)
        #expect(first.detail?.hasPrefix("cannot resolve no-such-relay.invalid") == true, "\(first)")
        let second = await probe.check()
        #expect(second == first)
    }
}
