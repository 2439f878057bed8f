import Digest
import Lease
import Threads
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes each message as one `.eml` file (RFC 5322, CRLF) into a folder, for running without a
/// mail server. The file is named after the SHA-256 of the `Message-ID`, so sending the same
/// job again overwrites its file. Writes go to a temporary file that is synced and then renamed
/// into place, so a reader never sees half a message.
public final class FileSpoolTransport: MailTransport {
    public let directory: String
    private let workers: WorkerThreads<Void>
    private let counter = Atomic<Int>(0)

    public init(directory: String) throws(MailError) {
        var path = ""
        for component in directory.split(separator: "/") {
            path += "/" + component
            if mkdir(path, 0o750) != 0 && errno != EEXIST {
                throw MailError(code: .invalidConfiguration, message: "cannot create spool folder \(path): \(String(cString: strerror(errno)))")
            }
        }
        guard access(directory, W_OK) == 0 else {
            throw MailError(code: .invalidConfiguration, message: "spool folder \(directory) is not writable")
        }
        self.directory = directory
        workers = WorkerThreads(count: 1, makeState: {}, finish: { _ in })
    }

    /// The file a message goes to.
    public func path(for message: MailMessage) -> String {
        "\(directory)/\(SHA256.hexDigest(message.messageID.utf8)).eml"
    }

    public func send(_ message: MailMessage, before deadline: LeaseDeadline?) async throws(MailDeliveryError) {
        let data: [UInt8]
        do { data = try message.rendered() } catch {
            throw MailDeliveryError(kind: .permanent, reason: "message cannot be rendered: \(error.message)")
        }
        let target = path(for: message)
        let temporary = "\(directory)/.tmp-\(getpid())-\(counter.add(1, ordering: .relaxed).newValue)"
        let outcome = await workers.run { _ in Self.writeFile(data, temporary: temporary, target: target, deadline: deadline) }
        guard let outcome else { throw MailDeliveryError(kind: .transient, reason: "spool transport is shut down") }
        if let failure = outcome { throw failure }
    }

    public func shutdown() { workers.stop() }

    /// Dropping the transport ends its threads once queued sends are done.
    deinit { shutdown() }

    /// nil when written, otherwise why not. The rename is the point of no return.
    private static func writeFile(_ data: [UInt8], temporary: String, target: String, deadline: LeaseDeadline?) -> MailDeliveryError? {
        func failed(_ reason: String) -> MailDeliveryError { MailDeliveryError(kind: .transient, reason: reason) }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return failed("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var written = 0
        while written < data.count {
            let n = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, data.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let reason = "cannot write \(temporary): \(String(cString: strerror(errno)))"
                close(fd)
                unlink(temporary)
                return failed(reason)
            }
            written += n
        }
        if fsync(fd) != 0 || close(fd) != 0 {
            unlink(temporary)
            return failed("cannot sync \(temporary)")
        }
        if deadline?.hasPassed == true {
            unlink(temporary)
            return MailDeliveryError(kind: .leaseLost, reason: "the job's lease was lost before the message was spooled; not written")
        }
        guard rename(temporary, target) == 0 else {
            let reason = "cannot rename into \(target): \(String(cString: strerror(errno)))"
            unlink(temporary)
            return failed(reason)
        }
        return nil
    }
}
