import Foundation

/// Starts `command` (absolute path first) with standard input from /dev/null and output appended
/// to `outputPath`, waits for it, and returns its exit status. Blocking: call off the
/// cooperative pool.
func spawnAndWait(_ command: [String], outputPath: String) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let arguments = command.map { strdup($0) } + [nil]
    defer { arguments.forEach { free($0) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, command[0], &actions, nil, arguments, environ)
    guard result == 0 else { throw TestServerError("cannot start \(command[0]): \(String(cString: strerror(result)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { throw TestServerError("waitpid failed for \(command[0])") }
    }
    // WIFEXITED / WEXITSTATUS by hand: Glibc's macros do not import.
    if status & 0x7f == 0 { return (status >> 8) & 0xff }
    return 128 + (status & 0x7f)
}
