// bridge-bench: messages per second from servicekonto-bridge to the postbox sandbox over
// keep-alive HTTP (plain HTTP on loopback, OAuth2 bearer tokens on).
//
//   bridge-bench [--messages 5000] [--connections 16] [--concurrency 64] [--sandbox-url URL]
//
// Starts a private durable PostgreSQL (fsync on) and, unless --sandbox-url names a running
// servicekonto-sandbox (client amtsweg / sandbox-secret), a sandbox in this process. Measures:
//   1. client: the ServicekontoClient alone posting N messages (HTTP + JSON, no database)
//   2. bridge: N messages queued on citizen-outbox, drained by the bridge's consumer (load,
//      rule check, POST /messages, mark delivered with timeline and audit) until all delivered
import Foundation
import HTTPClient
import HTTPServer
import JobQueue
import QueueContracts
import Logging
import Metrics
import Postgres
import Servicekonto
import ServicekontoBridge
import ServicekontoSandbox
import ServiceRuntime
import TestSupport

struct Options {
    var messages = 5000
    var connections = 16
    var concurrency = 64
    var sandboxURL: String?

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--messages": messages = Int(iterator.next() ?? "") ?? messages
            case "--connections": connections = Int(iterator.next() ?? "") ?? connections
            case "--concurrency": concurrency = Int(iterator.next() ?? "") ?? concurrency
            case "--sandbox-url": sandboxURL = iterator.next()
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
    }
}

struct Quiet: LogSink { func write(line: String) {} }

func rate(_ count: Int, _ elapsed: Duration) -> String {
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return String(format: "%.0f/s (%d in %.2f s)", Double(count) / seconds, count, seconds)
}

func run() async throws {
    let options = Options(CommandLine.arguments)
    let logger = Logger(service: "bridge-bench", minimumLevel: .warning)
    var server: HTTPServer?
    let baseURL: String
    if let url = options.sandboxURL {
        baseURL = url
    } else {
        let sandbox = Sandbox(configuration: SandboxConfiguration())
        var router = Router(logger: Logger(service: "sandbox", minimumLevel: .error, sink: Quiet()))
        sandbox.register(on: &router)
        let http = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), logger: logger, responder: router)
        try http.start()
        server = http
        baseURL = "http://127.0.0.1:\(http.port!)"
    }
    let clientConfiguration = ServicekontoClientConfiguration(
        baseURL: baseURL,
        credentials: OAuth2ClientCredentialsConfiguration(tokenURL: baseURL + "/oauth/token", clientID: "amtsweg", clientSecret: "sandbox-secret"),
        http: HTTPClientConfiguration(connections: options.connections))
    print("bridge-bench: \(options.messages) messages, \(options.connections) keep-alive connections, sandbox \(options.sandboxURL == nil ? "in process" : baseURL) over plain HTTP")

    // 1. The client alone.
    let client = ServicekontoClient(clientConfiguration)
    _ = try await client.tokens?.token()
    let started = ContinuousClock.now
    let failures = SharedCounter()
    await withTaskGroup(of: Void.self) { group in
        let perWorker = (options.messages + options.concurrency - 1) / options.concurrency
        for worker in 0..<options.concurrency {
            group.addTask {
                for n in (worker * perWorker)..<min(options.messages, (worker + 1) * perWorker) {
                    let message = PostboxMessage(
                        id: "bench-client-\(n)", mailboxUuid: UUID().uuidString.lowercased(), sender: "Stadt Erkelenz", title: "Hinweis",
                        content: "Ihr Antrag ist eingegangen.", service: "Anwohnerparkausweis", stork_qaa_level: 3,
                        applicationId: UUID().uuidString.lowercased(), reference: "ERK-2026-\(n)")
                    do { _ = try await client.deliver(message) } catch { failures.add() }
                }
            }
        }
    }
    let clientElapsed = ContinuousClock.now - started
    print("1. client only:  \(rate(options.messages, clientElapsed)), failures \(failures.current), connections opened \(client.http.connectionsOpened)")
    client.shutdown()

    // 2. The whole bridge.
    let postgres = try await PostgresTestServer.start(options: .init(durable: true))
    defer { postgres.stop() }
    let db = try await TestDatabase.make(on: postgres, maxConnections: 40)
    let fixture = try await db.pool.withTransaction { tx -> (UUID, UUID, UUID, UUID) in
        let tenant: UUID = try await tx.query("INSERT INTO tenants (slug, name, reference_prefix) VALUES ('erk', 'Stadt Erkelenz', 'ERK') RETURNING id")[0].decode("id")
        let service: UUID = try await tx.query("INSERT INTO services (tenant_id, key, name) VALUES (\(tenant), 'parking', 'Anwohnerparkausweis') RETURNING id")[0].decode("id")
        let area: UUID = try await tx.query("INSERT INTO responsibility_areas (tenant_id, service_id, name) VALUES (\(tenant), \(service), 'Bürgerbüro') RETURNING id")[0].decode("id")
        let caseworker: UUID = try await tx.query("INSERT INTO caseworkers (tenant_id, name, email) VALUES (\(tenant), 'Erika Muster', 'erika@example.org') RETURNING id")[0].decode("id")
        return (tenant, service, area, caseworker)
    }
    let (tenant, service, area, caseworker) = fixture
    try await db.pool.query("""
        INSERT INTO applications (tenant_id, service_id, reference, status, area_id, claimed_by, applicant, form, postbox_mailbox_id, postbox_trust_level, submitted_at)
        SELECT \(tenant), \(service), 'ERK-2026-' || lpad(n::text, 6, '0'), 'in_progress', \(area), \(caseworker), '{"name": "Max"}', '{}', gen_random_uuid(), 'substantial', now()
        FROM generate_series(1, \(options.messages)) AS n
        """)
    let ids: [UUID] = try await db.pool.query("""
        INSERT INTO messages (tenant_id, application_id, direction, kind, subject, body, trust_level, mailbox_id, delivery_state)
        SELECT tenant_id, id, 'outbound', 'information', 'Hinweis', 'Ihr Antrag ist eingegangen.', 'substantial', postbox_mailbox_id, 'queued'
        FROM applications RETURNING id
        """).map { try $0.decode("id") }
    let queue = JobQueue(pool: db.pool, notifier: nil)
    try await db.pool.withTransaction { tx in
        _ = try await queue.enqueue(try ids.map { try NewJob(CitizenOutboxJob(messageID: $0), tenantID: tenant) }, in: tx)
    }
    let configuration = BridgeConfiguration(client: clientConfiguration, concurrency: options.concurrency, replyPolling: false, pollInterval: .milliseconds(100))
    let bridge = ServicekontoBridge(pool: db.pool, listener: nil, queue: queue, configuration: configuration, logger: logger, metrics: MetricsRegistry())
    let shutdown = ShutdownSignal()
    let bridgeStarted = ContinuousClock.now
    let running = Task {
        await withTaskGroup(of: Void.self) { group in
            for service in bridge.services { group.addTask { try? await service.run(shutdown: shutdown) } }
        }
    }
    while try await db.scalar("SELECT count(*) FROM messages WHERE delivery_state = 'queued'", as: Int.self) > 0 {
        try await Task.sleep(for: .milliseconds(20))
    }
    let bridgeElapsed = ContinuousClock.now - bridgeStarted
    shutdown.trigger()
    await running.value
    let delivered = try await db.scalar("SELECT count(*) FROM messages WHERE delivery_state = 'delivered'", as: Int.self)
    print("2. bridge:       \(rate(delivered, bridgeElapsed)) delivered (queue → POST /messages → delivered), connections opened \(bridge.client.http.connectionsOpened)")
    bridge.shutdown()
    await db.pool.close()
    if let server { await server.shutdown() }
}

do { try await run() } catch {
    FileHandle.standardError.write(Data("bridge-bench failed: \(error)\n".utf8))
    exit(1)
}
