import Threads
import CCurlShim
import Lease
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SMTP over libcurl. Each of `configuration.connections` threads owns one libcurl easy handle
/// and keeps its connection open between messages, so a burst reuses connections instead of
/// opening one per mail. STARTTLS is required on `smtp://` unless `startTLS` is `.off`;
/// `smtps://` is TLS from the start; the server certificate is always verified.
///
/// Failures: no connection, timeouts, TLS or AUTH problems and SMTP 4xx replies are transient;
/// a 5xx reply to the sender, a recipient or the message is permanent and carries the
/// server's reply text. A send with a deadline that passes before the end of DATA is aborted
/// there (from libcurl's read callback: cancelling the task would not stop the blocking call) and
/// throws `.leaseLost`; the server never accepts that message.
public final class SMTPTransport: MailTransport {
    public let configuration: SMTPConfiguration
    private let workers: WorkerThreads<CurlSession>
    private let opened = Atomic<Int>(0)
    private let sent = Atomic<Int>(0)

    public init(_ configuration: SMTPConfiguration) throws(MailError) {
        guard case .smtp(let url) = try configuration.endpoint else {
            throw MailError(code: .invalidConfiguration, message: "SMTPTransport needs an smtp:// or smtps:// URL")
        }
        _ = curlGlobalInit
        self.configuration = configuration
        let settings = CurlSettings(
            url: url, username: configuration.username, password: configuration.password, caFile: configuration.caFile,
            requireTLS: configuration.startTLS == .required,
            connectTimeoutMilliseconds: Int(configuration.connectTimeout.milliseconds),
            timeoutMilliseconds: Int(configuration.transferTimeout.milliseconds))
        workers = WorkerThreads(
            count: configuration.connections,
            makeState: { CurlSession(settings) },
            finish: { $0.close() })
    }

    /// Connections opened so far (libcurl's count of new connections over all sends).
    public var connectionsOpened: Int { opened.load(ordering: .relaxed) }
    /// Messages the server accepted.
    public var messagesSent: Int { sent.load(ordering: .relaxed) }

    public func send(_ message: MailMessage, before deadline: LeaseDeadline?) async throws(MailDeliveryError) {
        let data: [UInt8]
        do { data = try message.rendered() } catch {
            throw MailDeliveryError(kind: .permanent, reason: "message cannot be rendered: \(error.message)")
        }
        let sender = message.envelopeSender
        let recipients = message.recipients
        let outcome = await workers.run { session in session.send(from: sender, to: recipients, data: data, before: deadline) }
        guard let outcome else {
            throw MailDeliveryError(kind: .transient, reason: "SMTP transport is shut down")
        }
        opened.add(outcome.connectionsOpened, ordering: .relaxed)
        if let error = outcome.error { throw error }
        sent.add(1, ordering: .relaxed)
    }

    public func shutdown() { workers.stop() }

    /// Dropping the transport ends its threads once queued sends are done.
    deinit { shutdown() }
}

private let curlGlobalInit: Void = { _ = amtsweg_curl_global_init() }()

private struct CurlSettings: Sendable {
    var url: String
    var username: String?
    var password: String?
    var caFile: String?
    var requireTLS: Bool
    var connectTimeoutMilliseconds: Int
    var timeoutMilliseconds: Int
}

private struct SendOutcome: Sendable {
    var error: MailDeliveryError?
    var connectionsOpened: Int
}

/// One libcurl easy handle. Used only by the worker thread that made it.
private final class CurlSession {
    private var handle: OpaquePointer?
    private var configureError: MailDeliveryError?

    init(_ settings: CurlSettings) {
        guard let handle = amtsweg_smtp_new() else {
            configureError = MailDeliveryError(kind: .transient, reason: "libcurl cannot create a handle")
            return
        }
        self.handle = handle
        let code = amtsweg_smtp_configure(
            handle, settings.url, settings.username, settings.password, settings.caFile, settings.requireTLS ? 1 : 0,
            settings.connectTimeoutMilliseconds, settings.timeoutMilliseconds)
        if code != 0 {
            configureError = MailDeliveryError(kind: .transient, reason: "libcurl rejected the SMTP settings: \(String(cString: amtsweg_curl_strerror(code)))")
        }
    }

    func close() {
        if let handle { amtsweg_smtp_free(handle) }
        handle = nil
    }

    func send(from sender: String, to recipients: [String], data: [UInt8], before deadline: LeaseDeadline?) -> SendOutcome {
        if let configureError { return SendOutcome(error: configureError, connectionsOpened: 0) }
        if deadline?.hasPassed == true { return SendOutcome(error: Self.leaseLost, connectionsOpened: 0) }
        var result = amtsweg_smtp_result_t()
        let cRecipients: [UnsafePointer<CChar>?] = recipients.map { UnsafePointer(strdup($0)) }
        defer { cRecipients.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        func send(_ stop: amtsweg_smtp_stop_t?, _ context: UnsafeMutableRawPointer?) -> Int32 {
            data.withUnsafeBufferPointer { bytes in
                cRecipients.withUnsafeBufferPointer { list in
                    bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { pointer in
                        amtsweg_smtp_send(handle, sender, list.baseAddress, list.count, pointer, bytes.count, stop, context, &result)
                    }
                }
            }
        }
        let code = deadline.map { deadline in deadline.withCContext { send(LeaseDeadline.cCheck, $0) } } ?? send(nil, nil)
        let opened = Int(result.connects_opened)
        guard code != 0 else { return SendOutcome(error: nil, connectionsOpened: opened) }
        if result.stopped != 0 { return SendOutcome(error: Self.leaseLost, connectionsOpened: opened) }
        return SendOutcome(error: Self.classify(result), connectionsOpened: opened)
    }

    static let leaseLost = MailDeliveryError(kind: .leaseLost, reason: "the job's lease was lost before the end of DATA; the message was not sent")

    // CURLcode values used below (stable across libcurl 7 and 8).
    private static let useSSLFailed: Int32 = 64
    private static let loginDenied: Int32 = 67

    static func classify(_ result: amtsweg_smtp_result_t) -> MailDeliveryError {
        var result = result
        let curlText = String(cString: amtsweg_curl_strerror(result.curl_code))
        let detail = withUnsafeBytes(of: &result.error) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let reply = withUnsafeBytes(of: &result.reply) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            .trimmingSpaces
        let code = Int(result.response_code)
        var reason = "curl: \(curlText)"
        if !detail.isEmpty && detail != curlText { reason += " (\(detail))" }
        if code > 0 { reason = "SMTP \(code): \(reply.isEmpty ? "no reply text" : reply); " + reason }
        // Not about this message: the server refused TLS or our credentials. Retry.
        let aboutTheSession = result.curl_code == loginDenied || result.curl_code == useSSLFailed
        if (500..<600).contains(code) && !aboutTheSession {
            return MailDeliveryError(kind: .permanent, replyCode: code, reason: reason)
        }
        return MailDeliveryError(kind: .transient, replyCode: code > 0 ? code : nil, reason: reason)
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
