import Threads
import CCurlHTTP
import Lease
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Settings of an ``HTTPClient``.
public struct HTTPClientConfiguration: Sendable {
    /// Threads, each with one libcurl handle and its kept-alive connection: requests in flight at once.
    public var connections: Int
    public var connectTimeout: Duration
    /// Whole request, connect included.
    public var requestTimeout: Duration
    /// PEM CA bundle to verify servers with; nil = the system's.
    public var caFile: String?
    /// Client certificate and key (PEM) for mutual TLS.
    public var clientCertificateFile: String?
    public var clientKeyFile: String?
    /// Longer response bodies are cut (and reported as truncated).
    public var maxResponseBytes: Int

    public init(
        connections: Int = 8, connectTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(30),
        caFile: String? = nil, clientCertificateFile: String? = nil, clientKeyFile: String? = nil,
        maxResponseBytes: Int = 16 << 20
    ) {
        self.connections = max(1, connections)
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.caFile = caFile
        self.clientCertificateFile = clientCertificateFile
        self.clientKeyFile = clientKeyFile
        self.maxResponseBytes = maxResponseBytes
    }
}

/// A response: status, body and the headers the callers here need.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    /// `Retry-After` (seconds or HTTP date), when the server sent one.
    public var retryAfter: Duration?
    public var bodyTruncated: Bool

    public init(status: Int, body: [UInt8], retryAfter: Duration? = nil, bodyTruncated: Bool = false) {
        self.status = status
        self.body = body
        self.retryAfter = retryAfter
        self.bodyTruncated = bodyTruncated
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// No response: connection refused or dropped, timeout, TLS failure, bad settings, or the
/// client is shut down. Always worth a retry except for `configuration`. `leaseLost`: the
/// request's deadline passed before it was sent, and it was not.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case network, configuration, shutdown, leaseLost }
    public var kind: Kind
    /// libcurl's code (0 when not from libcurl).
    public var curlCode: Int
    public var message: String

    public init(kind: Kind, curlCode: Int = 0, message: String) {
        self.kind = kind
        self.curlCode = curlCode
        self.message = message
    }

    public var description: String { "HTTP client \(kind): \(message)" }
}

public enum HTTPRequestMethod: String, Sendable { case get = "GET", post = "POST", put = "PUT", delete = "DELETE", patch = "PATCH" }

/// HTTP/1.1 and HTTPS over libcurl on threads this client owns. Each thread keeps its connection
/// open between requests, so a stream of requests to one host reuses connections (keep-alive).
/// Server certificates are always verified; mutual TLS when a client certificate is configured.
public final class HTTPClient: Sendable {
    public let configuration: HTTPClientConfiguration
    private let threads: WorkerThreads<CurlHandle>
    private let opened = Atomic<Int>(0)
    private let requests = Atomic<Int>(0)

    public init(_ configuration: HTTPClientConfiguration = HTTPClientConfiguration()) {
        _ = curlGlobalInit
        self.configuration = configuration
        let settings = configuration
        threads = WorkerThreads(count: configuration.connections, makeState: { CurlHandle(settings) }, finish: { $0.close() })
    }

    deinit { threads.stop() }

    /// New connections opened so far (keep-alive works when this stays near `connections`).
    public var connectionsOpened: Int { opened.load(ordering: .relaxed) }
    /// Requests that got a response.
    public var responsesReceived: Int { requests.load(ordering: .relaxed) }

    /// Sends one request. Any HTTP status is a response; only the absence of one throws. With a
    /// `deadline`, the request is not sent once it has passed (checked by libcurl right before
    /// sending, after the connection is ready): `.leaseLost`.
    public func send(
        _ method: HTTPRequestMethod, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        before deadline: LeaseDeadline? = nil
    ) async throws(HTTPClientError) -> HTTPClientResponse {
        let lines = headers.map { "\($0.0): \($0.1)" }
        let outcome = await threads.run { handle in handle.perform(method.rawValue, url, lines, body, before: deadline) }
        guard let outcome else { throw HTTPClientError(kind: .shutdown, message: "HTTP client is shut down") }
        opened.add(outcome.connectionsOpened, ordering: .relaxed)
        switch outcome.result {
        case .success(let response):
            requests.add(1, ordering: .relaxed)
            return response
        case .failure(let error):
            throw error
        }
    }

    /// Ends the threads after queued requests; later sends throw `.shutdown`.
    public func shutdown() { threads.stop() }
}

private let curlGlobalInit: Void = { _ = amtsweg_http_global_init() }()

private struct PerformOutcome: Sendable {
    var result: Result<HTTPClientResponse, HTTPClientError>
    var connectionsOpened: Int
}

/// One libcurl easy handle. Used only by the thread that made it.
private final class CurlHandle {
    private var handle: OpaquePointer?
    private var configureError: HTTPClientError?

    init(_ configuration: HTTPClientConfiguration) {
        guard let handle = amtsweg_http_new(configuration.maxResponseBytes) else {
            configureError = HTTPClientError(kind: .network, message: "libcurl cannot create a handle")
            return
        }
        self.handle = handle
        let code = amtsweg_http_configure(
            handle, configuration.caFile, configuration.clientCertificateFile, configuration.clientKeyFile,
            Int(configuration.connectTimeout.milliseconds), Int(configuration.requestTimeout.milliseconds))
        if code != 0 {
            configureError = HTTPClientError(
                kind: .configuration, curlCode: Int(code),
                message: "libcurl rejected the settings: \(String(cString: amtsweg_http_strerror(code)))")
        }
    }

    func close() {
        if let handle { amtsweg_http_free(handle) }
        handle = nil
    }

    static let leaseLost = HTTPClientError(kind: .leaseLost, message: "the job's lease was lost before the request was sent; not sent")

    func perform(_ method: String, _ url: String, _ headers: [String], _ body: [UInt8]?, before deadline: LeaseDeadline?) -> PerformOutcome {
        if let configureError { return PerformOutcome(result: .failure(configureError), connectionsOpened: 0) }
        if deadline?.hasPassed == true { return PerformOutcome(result: .failure(Self.leaseLost), connectionsOpened: 0) }
        var result = amtsweg_http_result_t()
        let cHeaders: [UnsafePointer<CChar>?] = headers.map { UnsafePointer(strdup($0)) }
        defer { cHeaders.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        func perform(_ stop: amtsweg_http_stop_t?, _ context: UnsafeMutableRawPointer?) -> Int32 {
            cHeaders.withUnsafeBufferPointer { list in
                if let body {
                    if body.isEmpty {
                        // A non-NULL pointer for an empty body (NULL means "no body").
                        var zero: CChar = 0
                        return withUnsafePointer(to: &zero) {
                            amtsweg_http_perform(handle, method, url, list.baseAddress, list.count, $0, 0, stop, context, &result)
                        }
                    }
                    return body.withUnsafeBufferPointer { bytes in
                        bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { pointer in
                            amtsweg_http_perform(handle, method, url, list.baseAddress, list.count, pointer, bytes.count, stop, context, &result)
                        }
                    }
                }
                return amtsweg_http_perform(handle, method, url, list.baseAddress, list.count, nil, 0, stop, context, &result)
            }
        }
        let code = deadline.map { deadline in deadline.withCContext { perform(LeaseDeadline.cCheck, $0) } } ?? perform(nil, nil)
        let opened = Int(result.connects_opened)
        if code != 0 && result.stopped != 0 { return PerformOutcome(result: .failure(Self.leaseLost), connectionsOpened: opened) }
        guard code == 0 else {
            let text = String(cString: amtsweg_http_strerror(code))
            let detail = withUnsafeBytes(of: &result.error) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            let message = detail.isEmpty || detail == text ? "curl: \(text)" : "curl: \(text) (\(detail))"
            return PerformOutcome(result: .failure(HTTPClientError(kind: .network, curlCode: Int(code), message: message)), connectionsOpened: opened)
        }
        var length = 0
        let pointer = amtsweg_http_body(handle, &length)
        let bytes = pointer.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
        let response = HTTPClientResponse(
            status: Int(result.status), body: bytes,
            retryAfter: result.retry_after_seconds >= 0 ? .seconds(result.retry_after_seconds) : nil,
            bodyTruncated: result.body_truncated != 0)
        return PerformOutcome(result: .success(response), connectionsOpened: opened)
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
