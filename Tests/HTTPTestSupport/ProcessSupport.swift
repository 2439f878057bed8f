import Foundation

/// Runs an executable and collects its output, off the cooperative pool.
public func runProcess(_ executable: String, _ arguments: [String], input: String? = nil) async throws -> (status: Int32, stdout: String, stderr: String) {
    try await offPool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try inPipe.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}

/// `name` resolved through PATH (a path with a `/` is taken as it is).
public func toolPath(_ name: String) -> String {
    if name.contains("/") { return name }
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return "/usr/bin/\(name)"
}

/// The path of an executable built by this package (next to the test bundle).
public func builtProduct(_ name: String) throws -> String {
    var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    throw RawClient.Failure(description: "built product \(name) not found near the test bundle; run `swift build --build-tests` first")
}

/// `toolPath(name)`, or a failure that says how to install it (a missing tool fails a test, never skips it).
public func requireTool(_ name: String) throws -> String {
    let path = toolPath(name)
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw RawClient.Failure(description: "\(name) not found on PATH: deploy/test.sh installs it (deploy/requirements-test.txt)")
    }
    return path
}

public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Starts `arguments` (resolved through PATH) with output to `outputPath`; returns the pid.
/// `environment` (when given) is added to this process's environment.
public func spawn(_ arguments: [String], outputPath: String, environment: [String: String]? = nil) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let executable = toolPath(arguments[0])
    let argv = ([executable] + arguments.dropFirst()).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let result: Int32
    if let environment {
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
    } else {
        result = posix_spawn(&pid, executable, &actions, nil, argv, environ)
    }
    guard result == 0 else { throw FixtureError("cannot start \(executable): \(String(cString: strerror(result)))") }
    return pid
}

/// Waits for `pid` to end (blocking); returns its exit status.
@discardableResult
public func reap(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return status
}

/// A size line of `/proc/<pid>/status` in bytes (`VmHWM` = peak resident set, `VmRSS`), or nil.
public func processStatusBytes(_ pid: pid_t, _ field: String) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
    }
    return nil
}
