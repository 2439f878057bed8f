import Foundation
import Synchronization

// Small tools of the system benchmark: clocks, percentiles, /proc readings.

/// Prints a line and flushes it at once (progress shows up also when the output is a file or pipe).
func say(_ text: String = "") {
    print(text)
    fflush(nil)
}

/// Wall-clock seconds since 1970 (the SMTP and sandbox journals use the same clock).
func wallNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Monotonic seconds, for scheduling.
func monoNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Nearest-rank percentile of sorted values (nan when empty).
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[max(0, min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
}

func ms(_ seconds: Double) -> String {
    seconds.isNaN ? "—" : String(format: seconds < 0.1 ? "%.1f" : "%.0f", seconds * 1000)
}

func mib(_ bytes: Int?) -> String {
    bytes.map { String(format: "%.1f", Double($0) / 1_048_576) } ?? "—"
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A value behind a lock, shared by tasks and threads.
final class Locked<T: Sendable>: Sendable {
    private let mutex: Mutex<T>
    init(_ value: T) { mutex = Mutex(value) }
    func with<R: Sendable>(_ body: (inout T) -> R) -> R { mutex.withLock { body(&$0) } }
    var value: T { mutex.withLock { $0 } }
}

enum Proc {
    static let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// Fields of /proc/<pid>/stat after the command name (index 0 = state, field 3 in proc(5)).
    private static func statFields(_ pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// User + system CPU seconds of a process so far.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let fields = statFields(pid), fields.count > 12 else { return 0 }
        return ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / ticks
    }

    static func parent(_ pid: Int32) -> Int32? {
        guard let fields = statFields(pid), fields.count > 1 else { return nil }
        return Int32(fields[1])
    }

    static func allPids() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    /// `pid` and its children (PostgreSQL's backends are children of the postmaster).
    static func tree(_ pid: Int32) -> [Int32] {
        [pid] + allPids().filter { parent($0) == pid }
    }

    /// The first process whose command line contains every one of `needles`.
    static func find(_ needles: [String]) -> Int32? {
        for pid in allPids() {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            if needles.allSatisfy({ line.contains($0) }) { return pid }
        }
        return nil
    }

    /// CPU seconds the whole machine spent busy (all cores; user, nice, system, irq, softirq, steal).
    static func machineBusySeconds() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return 0 }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 8 else { return 0 }
        // user nice system idle iowait irq softirq steal
        return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]) / ticks
    }

    static func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }
}
