import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Metrics

/// Standard process metrics (`process_resident_memory_bytes`, `process_open_fds`,
/// `process_start_time_seconds`), read from `/proc` at scrape time.
enum ProcessMetrics {
    static func register(in registry: MetricsRegistry) {
        let startTime = Date().timeIntervalSince1970
        registry.addCollector {
            var samples = [
                MetricSample(name: "process_start_time_seconds", help: "Start time of the process since the Unix epoch in seconds.", value: startTime.rounded()),
            ]
            if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
               let residentPages = statm.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) {
                samples.append(MetricSample(name: "process_resident_memory_bytes", help: "Resident memory size in bytes.",
                                            value: residentPages * Double(sysconf(Int32(_SC_PAGESIZE)))))
            }
            if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
                samples.append(MetricSample(name: "process_open_fds", help: "Number of open file descriptors.", value: Double(descriptors.count)))
            }
            return samples
        }
    }
}
