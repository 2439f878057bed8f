import Foundation

/// Raises the soft open-file limit (each test connection costs two descriptors).
public func raiseOpenFileLimit(to wanted: rlim_t) throws {
    var limit = rlimit()
    getrlimit(RLIMIT_NOFILE_VALUE, &limit)
    guard limit.rlim_cur < wanted else { return }
    limit.rlim_cur = min(wanted, limit.rlim_max)
    guard setrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0, limit.rlim_cur >= wanted else {
        throw RawClient.Failure(description: "cannot raise RLIMIT_NOFILE to \(wanted) (hard limit \(limit.rlim_max))")
    }
}

private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

/// VmRSS in KiB of this process, or of the process whose status file is given.
public func residentSetSizeKiB(statusFile: String = "/proc/self/status") -> Int {
    guard let status = try? String(contentsOfFile: statusFile, encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    return 0
}
