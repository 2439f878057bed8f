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

/// VmRSS in KiB of a process (this one by default); 0 when it cannot be read.
public func residentSetSizeKiB(pid: pid_t = getpid()) -> Int {
    (processStatusBytes(pid, "VmRSS") ?? 0) / 1024
}
