// inbox benchmark (issue 6): `GET /v1/inbox` latency p50/p99 with many applications in the
// database, and assignment-to-long-poll-wake latency with many clients long-polling.
//
//   Benchmarks/inbox/run.sh [--rows 1000000] [--open 10000] [--areas 20] [--clients 200]
//                           [--requests 2000] [--rounds 40]
//
// Starts its own PostgreSQL (TestSupport), seeds `rows` applications of one tenant of which
// `open` are assigned across `areas` areas (the rest completed), serves the inbox API in this
// process on a loopback port, then measures:
// - one caseworker's first inbox page (limit 50), sequential keep-alive requests;
// - an admin's first page over the whole tenant;
// - `clients` long-polls (`wait=30`, spread over the areas): per round one application is
//   assigned to an area (UPDATE + NOTIFY in one transaction, as routing does) and the time from
//   the start of that transaction (an upper bound of commit-to-wake) to each of that area's
//   clients receiving its 200 is recorded.
// Targets (issue 6): inbox page p99 <= 10 ms; wake p99 <= 50 ms.
import Administration
import Domain
import Foundation
import HTTPServer
import InboxService
import JobQueue
import Logging
import Postgres
import TestSupport

struct Options {
    var rows = 1_000_000
    var open = 10_000
    var areas = 20
    var clients = 200
    var requests = 2000
    var rounds = 40

    init(_ arguments: [String]) {
        var index = 0
        while index + 1 < arguments.count {
            let value = Int(arguments[index + 1])
            switch arguments[index] {
            case "--rows": rows = value ?? rows
            case "--open": open = value ?? open
            case "--areas": areas = value ?? areas
            case "--clients": clients = value ?? clients
            case "--requests": requests = value ?? requests
            case "--rounds": rounds = value ?? rounds
            default: break
            }
            index += 2
        }
    }
}

/// A blocking HTTP/1.1 keep-alive client on one socket.
final class Client: @unchecked Sendable {
    let fd: Int32
    private var buffer = [UInt8]()

    init(port: Int, timeoutSeconds: Int = 60) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw NSError(domain: "connect", code: Int(errno)) }
    }

    deinit { close(fd) }

    /// Sends a GET and returns (status, ETag).
    func get(_ path: String, token: String, ifNoneMatch: String? = nil) throws -> (Int, String?) {
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
        if let ifNoneMatch { request += "If-None-Match: \(ifNoneMatch)\r\n" }
        request += "\r\n"
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw NSError(domain: "send", code: Int(errno)) }
            sent += n
        }
        return try readResponse()
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw NSError(domain: "recv", code: Int(errno)) }
        buffer.append(contentsOf: chunk[0..<n])
    }

    private func readResponse() throws -> (Int, String?) {
        var headEnd = 0
        while true {
            if let end = find() { headEnd = end; break }
            try fill()
        }
        let head = String(decoding: buffer[0..<headEnd], as: UTF8.self)
        buffer.removeFirst(headEnd + 4)
        let lines = head.components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var length = 0
        var etag: String?
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[0].lowercased(), value = parts[1].trimmingCharacters(in: .whitespaces)
            if name == "content-length" { length = Int(value) ?? 0 }
            if name == "etag" { etag = value }
        }
        while buffer.count < length { try fill() }
        buffer.removeFirst(length)
        return (status, etag)
    }

    private func find() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for i in 0...(buffer.count - 4) where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { return i }
        return nil
    }
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

func format(_ v: Double) -> String { String(format: "%.2f", v) }

/// Receipt times of long-poll answers per area.
final class Receipts: @unchecked Sendable {
    private let lock = NSLock()
    private var byArea: [Int: [ContinuousClock.Instant]] = [:]
    func add(area: Int, at instant: ContinuousClock.Instant) { lock.lock(); byArea[area, default: []].append(instant); lock.unlock() }
    func after(area: Int, _ instant: ContinuousClock.Instant) -> [ContinuousClock.Instant] {
        lock.lock(); defer { lock.unlock() }
        return (byArea[area] ?? []).filter { $0 >= instant }
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let logger = Logger(service: "inbox-bench", minimumLevel: .warning)
let db = try await TestDatabase.make(maxConnections: 40)
let admin = AdminStore(pool: db.pool)
let tenant = try await admin.createTenant(slug: "bench", name: "Bench", referencePrefix: "BEN")
let service = try await admin.createService(tenant: tenant.id, key: "parking", name: "Anwohnerparkausweis")
let boss = try await admin.createCaseworker(tenant: tenant.id, name: "Admin", email: "admin@example.de", roles: [.caseworker, .admin])
let bossToken = try await admin.createCaseworkerToken(tenant: tenant.id, caseworker: boss.id).secret
var seededAreas: [UUID] = []
var seededTokens: [String] = []
for index in 0..<options.areas {
    let cw = try await admin.createCaseworker(tenant: tenant.id, name: "Caseworker \(index)", email: "cw\(index)@example.de", roles: [.caseworker])
    let area = try await admin.createArea(tenant: tenant.id, service: service.id, name: "Area \(index)", rules: [], members: [cw.id])
    seededAreas.append(area.id)
    seededTokens.append(try await admin.createCaseworkerToken(tenant: tenant.id, caseworker: cw.id).secret)
}
let areaIDs = seededAreas
let tokens = seededTokens

print("seeding \(options.rows) applications (\(options.open) open across \(options.areas) areas)…")
let seedStart = ContinuousClock.now
try await db.pool.query("""
    INSERT INTO applications (tenant_id, service_id, reference, status, outcome, area_id, applicant, form, submitted_at, received_at, closed_at)
    SELECT \(tenant.id), \(service.id), 'BEN-2026-' || lpad(i::text, 7, '0'),
           CASE WHEN i <= \(options.open) THEN 'assigned' ELSE 'completed' END,
           CASE WHEN i <= \(options.open) THEN NULL ELSE 'done' END,
           (\(areaIDs)::uuid[])[1 + (i % \(options.areas))],
           jsonb_build_object('name', 'Person ' || i), '{}'::jsonb,
           now() - (i * interval '1 second'), now() - (i * interval '1 second'),
           CASE WHEN i <= \(options.open) THEN NULL ELSE now() - (i * interval '1 second') + interval '1 hour' END
    FROM generate_series(1, \(options.rows)) AS i
    """)
try await db.pool.query("ANALYZE applications")
print("seeded in \(format(ms(ContinuousClock.now - seedStart) / 1000)) s")

let listener = PostgresListener(configuration: db.configuration, logger: logger)
let api = InboxAPI(pool: db.pool, queue: JobQueue(pool: db.pool, notifier: nil), listener: listener)
var router = Router(logger: logger)
api.register(on: &router)
let server = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), logger: logger, responder: router)
try server.start()
let port = server.port!

// MARK: Inbox page latency

func pageLatencies(token: String, count: Int) throws -> [Double] {
    let client = try Client(port: port)
    for _ in 0..<50 { _ = try client.get("/v1/inbox", token: token) }  // warm-up
    var samples: [Double] = []
    samples.reserveCapacity(count)
    for _ in 0..<count {
        let start = ContinuousClock.now
        let (status, _) = try client.get("/v1/inbox", token: token)
        precondition(status == 200, "inbox answered \(status)")
        samples.append(ms(ContinuousClock.now - start))
    }
    return samples
}

let caseworkerSamples = try await Task.detached { try pageLatencies(token: tokens[0], count: options.requests) }.value
print("inbox page, caseworker of one area (\(options.open / options.areas) open, limit 50): p50 \(format(percentile(caseworkerSamples, 0.5))) ms, p99 \(format(percentile(caseworkerSamples, 0.99))) ms over \(options.requests) requests")
let adminSamples = try await Task.detached { try pageLatencies(token: bossToken, count: options.requests) }.value
print("inbox page, admin over the whole tenant (\(options.open) open, limit 50): p50 \(format(percentile(adminSamples, 0.5))) ms, p99 \(format(percentile(adminSamples, 0.99))) ms over \(options.requests) requests")

// MARK: Long-poll wake latency

let receipts = Receipts()
for index in 0..<options.clients {
    let area = index % options.areas
    let token = tokens[area]
    let thread = Thread {
        do {
            let client = try Client(port: port)
            var (_, etag) = try client.get("/v1/inbox", token: token)
            while true {
                let (status, newTag) = try client.get("/v1/inbox?wait=30", token: token, ifNoneMatch: etag)
                if status == 200 { receipts.add(area: area, at: .now) }
                etag = newTag ?? etag
            }
        } catch {
            print("long-poll client \(index) stopped: \(error)")
        }
    }
    thread.stackSize = 256 * 1024
    thread.start()
}
try await Task.sleep(for: .seconds(2))  // every client is waiting

let perArea = options.clients / options.areas
var wakeSamples: [Double] = []
var missed = 0
let spares = try await db.pool.query("""
    SELECT id FROM applications WHERE tenant_id = \(tenant.id) AND status = 'completed' ORDER BY received_at DESC LIMIT \(options.rounds)
    """).map { try $0.decode("id", as: UUID.self) }
for round in 0..<options.rounds {
    let area = round % options.areas
    // Make a spare application a fresh assignment to `area`, newest of all (so it is on page one).
    let id = spares[round]
    let committed = ContinuousClock.now  // before the transaction: the figures are upper bounds
    try await db.pool.withTransaction { tx in
        try await tx.query("""
            UPDATE applications SET status = 'assigned', outcome = NULL, closed_at = NULL, area_id = \(areaIDs[area]),
                   received_at = now(), version = version + 1 WHERE id = \(id)
            """)
        try await tx.query("SELECT pg_notify('inbox.' || \(areaIDs[area].uuidString.lowercased()), \(id.uuidString.lowercased()))")
    }
    let deadline = committed + .seconds(5)
    while receipts.after(area: area, committed).count < perArea && ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(1))
    }
    let got = receipts.after(area: area, committed)
    missed += max(0, perArea - got.count)
    wakeSamples += got.prefix(perArea).map { ms($0 - committed) }
    try await Task.sleep(for: .milliseconds(200))
}
print("long-poll wake, \(options.clients) clients (\(perArea) per area), \(options.rounds) assignments: p50 \(format(percentile(wakeSamples, 0.5))) ms, p99 \(format(percentile(wakeSamples, 0.99))) ms, max \(format(wakeSamples.max() ?? .nan)) ms over \(wakeSamples.count) wake-ups, \(missed) missed")
exit(0)
