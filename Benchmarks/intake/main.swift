// intake benchmark: applications accepted per second (small form, no attachments, keep-alive,
// durable commits), latency p50/p99 at a fixed 1,000/s, and one 20 MiB attachment upload with
// the service's peak RSS.
//
//   swift build -c release --product intake --product intake-bench
//   .build/release/intake-bench [--seconds 15] [--connections 32] [--rate 1000]
//
// Starts its own PostgreSQL (fsync on, synchronous_commit on) and the release `intake`
// executable next to this binary. Targets (issue 4): >= 3,000/s; p99 <= 20 ms at 1,000/s;
// peak RSS of the 20 MiB upload well under 3x the body size.
import Administration
import Domain
import Foundation
import Postgres
import TestSupport

struct Options {
    var seconds = 15.0
    var connections = 32
    var rate = 1000.0

    init(_ arguments: [String]) {
        var index = 0
        while index + 1 < arguments.count {
            switch arguments[index] {
            case "--seconds": seconds = Double(arguments[index + 1]) ?? seconds
            case "--connections": connections = Int(arguments[index + 1]) ?? connections
            case "--rate": rate = Double(arguments[index + 1]) ?? rate
            default: break
            }
            index += 2
        }
    }
}

/// A blocking HTTP/1.1 keep-alive client on one socket (one thread uses it at a time).
final class Client: @unchecked Sendable {
    let fd: Int32
    private var buffer = [UInt8]()

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw BenchError("connect failed: \(errno)") }
    }

    deinit { close(fd) }

    /// Sends `request` and returns the response status.
    func exchange(_ request: [UInt8]) throws -> Int {
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, request.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw BenchError("send failed: \(errno)") }
            sent += n
        }
        // Head
        var headEnd: Int?
        while headEnd == nil {
            if let end = find(buffer, [13, 10, 13, 10]) { headEnd = end; break }
            try fill()
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        let status = Int(head.split(separator: " ")[1]) ?? 0
        var length = 0
        for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
            length = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
        }
        let total = headEnd! + 4 + length
        while buffer.count < total { try fill() }
        buffer.removeFirst(total)
        return status
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
        guard n > 0 else { throw BenchError("connection closed") }
        buffer.append(contentsOf: chunk[0..<n])
    }

    private func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] && Array(haystack[i..<i + needle.count]) == needle { return i }
        return nil
    }
}

/// A loopback port that was free a moment ago (bound to port 0, then released).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw BenchError("cannot find a free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func request(key: String, body: String) -> [UInt8] {
    Array("POST /v1/applications HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(key)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
}

func smallBody(_ n: Int) -> String {
    #"{"service":"parking","applicant":{"name":"Erika Mustermann","email":"erika@example.de","address":{"postal_code":"41812","municipality_key":"05370016"}},"form":{"plate":"HS-AB \#(n)","zone":"A","vehicle":{"kind":"car"}}}"#
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// User + system CPU seconds of a process so far.
func cpuSeconds(_ pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // After the command: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    return (Double(fields[11]) ?? 0) / ticks + (Double(fields[12]) ?? 0) / ticks
}

func procStatus(_ pid: Int32, _ field: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
    return 0
}

/// Runs `work` on `count` threads and waits for all.
func onThreads(_ count: Int, _ work: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread { work(index); group.leave() }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
}

final class Box<T>: @unchecked Sendable {
    var value: T
    let lock = NSLock()
    init(_ value: T) { self.value = value }
    func with<R>(_ body: (inout T) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()

print("== starting PostgreSQL (durable: fsync on, synchronous_commit on)")
let server = try await PostgresTestServer.start(options: .init(durable: true, maxConnections: 200))
let url = try await server.makeDatabase(migrated: true)
let pool = PostgresPool(configuration: PostgresConfiguration(url: url, applicationName: "bench"), pool: .init(maxConnections: 2), logger: .init(service: "bench", minimumLevel: .warning))
let admin = AdminStore(pool: pool)
let tenant = try await admin.createTenant(slug: "erkelenz", name: "Stadt Erkelenz", referencePrefix: "ERK")
_ = try await admin.createService(tenant: tenant.id, key: "parking", name: "Anwohnerparkausweis")
let key = try await admin.createIntakeClient(tenant: tenant.id, name: "bench").secret

print("== starting intake (\(binDirectory.path)/intake)")
let process = Process()
process.executableURL = binDirectory.appendingPathComponent("intake")
let port = try freePort()
var environment = ProcessInfo.processInfo.environment
environment.merge(["HTTP_HOST": "127.0.0.1", "HTTP_PORT": String(port), "DATABASE_URL": url, "LOG_LEVEL": "warning",
                   "DATABASE_POOL_SIZE": environment["DATABASE_POOL_SIZE"] ?? "16"]) { $1 }
process.environment = environment
try process.run()
defer { process.terminate(); process.waitUntilExit(); server.stop() }
var up = false
for _ in 0..<200 where !up {
    if (try? Client(port: port)) != nil { up = true } else { usleep(50_000) }
}
guard up else { throw BenchError("intake did not come up") }
let pid = process.processIdentifier
print("idle RSS: \(procStatus(pid, "VmRSS") / 1024) MiB")

// Warm-up
onThreads(8) { _ in
    guard let client = try? Client(port: port) else { return }
    for n in 0..<200 { _ = try? client.exchange(request(key: key, body: smallBody(n))) }
}

// 1. One 20 MiB upload (two attachments of 10 MiB, the per-attachment limit), first, so the
//    peak RSS is that of a warmed-up service rather than of one after the load phases.
print("== one upload with 20 MiB of attachments (2 x 10 MiB)")
var random = SystemRandomNumberGenerator()
let part = Array("%PDF-".utf8) + (5..<(10 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) }
let encoded = Data(part).base64EncodedString()
let digest = SHA256.hexDigest(part)
let uploadBody = #"{"service":"parking","applicant":{"name":"Erika"},"form":{},"attachments":["#
    + #"{"filename":"a.pdf","content_type":"application/pdf","content_base64":"\#(encoded)","sha256":"\#(digest)"},"#
    + #"{"filename":"b.pdf","content_type":"application/pdf","content_base64":"\#(encoded)","sha256":"\#(digest)"}]}"#
let uploadRequest = request(key: key, body: uploadBody)
let rssBefore = procStatus(pid, "VmRSS"), hwmBefore = procStatus(pid, "VmHWM")
let uploadClient = try Client(port: port)
let uploadStart = now()
let uploadStatus = try uploadClient.exchange(uploadRequest)
let uploadSeconds = now() - uploadStart
let hwmAfter = procStatus(pid, "VmHWM")
print(String(format: "status %d, body %.1f MiB, time %.0f ms", uploadStatus, Double(uploadBody.utf8.count) / 1048576, uploadSeconds * 1000))
print(String(format: "RSS before %.1f MiB; peak RSS (VmHWM) before %.1f MiB, after %.1f MiB = %.2fx the body size",
             Double(rssBefore) / 1024, Double(hwmBefore) / 1024, Double(hwmAfter) / 1024, Double(hwmAfter) * 1024 / Double(uploadBody.utf8.count)))

// 2. Throughput: closed loop on N keep-alive connections.
print("== throughput: \(options.connections) keep-alive connections, \(options.seconds) s")
let accepted = Box(0), failed = Box(0)
let deadline = now() + options.seconds
let started = now()
let cpuBefore = cpuSeconds(pid)
onThreads(options.connections) { index in
    guard let client = try? Client(port: port) else { return }
    var n = index * 1_000_000, ok = 0, bad = 0
    while now() < deadline {
        n += 1
        if let status = try? client.exchange(request(key: key, body: smallBody(n))), status == 201 { ok += 1 } else { bad += 1 }
    }
    accepted.with { $0 += ok }
    failed.with { $0 += bad }
}
let elapsed = now() - started
let throughput = Double(accepted.value) / elapsed
let cpuPerRequest = (cpuSeconds(pid) - cpuBefore) / Double(max(accepted.value, 1)) * 1e6
print(String(format: "accepted: %d in %.1f s = %.0f/s (failed: %d); intake CPU %.0f µs per application; load average %@",
             accepted.value, elapsed, throughput, failed.value, cpuPerRequest,
             ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")))

// 3. Latency at a fixed rate (open loop; latency from the scheduled send time, so a stall
//    counts against every request that should have gone out meanwhile).
let fixedConnections = 16
print("== latency at a fixed \(Int(options.rate))/s on \(fixedConnections) connections, \(options.seconds) s")
let latencies = Box([Double]())
let total = Int(options.rate * options.seconds)
let start = now() + 0.2
let fixedFailed = Box(0)
onThreads(fixedConnections) { index in
    guard let client = try? Client(port: port) else { return }
    var mine: [Double] = []
    var bad = 0
    var i = index
    while i < total {
        let scheduled = start + Double(i) / options.rate
        let wait = scheduled - now()
        if wait > 0 { usleep(useconds_t(wait * 1e6)) }
        if let status = try? client.exchange(request(key: key, body: smallBody(i))), status == 201 {} else { bad += 1 }
        mine.append((now() - scheduled) * 1000)
        i += fixedConnections
    }
    latencies.with { $0 += mine }
    fixedFailed.with { $0 += bad }
}
let sorted = latencies.value.sorted()
print(String(format: "requests: %d, failed: %d, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
             sorted.count, fixedFailed.value, percentile(sorted, 0.5), percentile(sorted, 0.9), percentile(sorted, 0.99), sorted.last ?? .nan))

print("== summary")
print(String(format: "accepted/s: %.0f (target >= 3000); at %d/s: p50 %.2f ms, p99 %.2f ms (target <= 20); 20 MiB upload: %.0f ms, peak RSS %.0f MiB (%.2fx body)",
             throughput, Int(options.rate), percentile(sorted, 0.5), percentile(sorted, 0.99), uploadSeconds * 1000, Double(hwmAfter) / 1024,
             Double(hwmAfter) * 1024 / Double(uploadBody.utf8.count)))
