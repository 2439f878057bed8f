import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A dependency a service cannot do its job without (notification's SMTP relay, the bridge's
/// postbox API), shown on `/readyz` as its own check: `ok` while a TCP connection to each of its
/// endpoints opens, `degraded` with the reason while one does not (name not resolved, refused, no
/// answer). Degraded never fails readiness: the work waits on the queue until the dependency is
/// back, and restarting or unrouting the service would not bring it back.
///
/// A connect (no protocol) is cheap for the peer and catches what a wrong host name or port in the
/// configuration does. It runs on a Dispatch thread (name resolution blocks), at most once per
/// ``interval``; `/readyz` waits for it at most ``connectTimeout`` + 1 s and otherwise shows the
/// previous result.
public final class DependencyProbe: Sendable {
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The check's name on `/readyz` (`smtp`, `postbox`).
    public let name: String
    public let endpoints: [Endpoint]
    public let interval: Duration
    public let connectTimeout: Duration

    private struct State {
        var last: ReadinessCheck?
        var checkedAt: ContinuousClock.Instant?
        var running = false
    }

    private let state = Mutex(State())

    public init(name: String, endpoints: [Endpoint], interval: Duration = .seconds(15), connectTimeout: Duration = .seconds(2)) {
        self.name = name
        self.endpoints = endpoints
        self.interval = interval
        self.connectTimeout = connectTimeout
    }

    /// The host and port of `scheme://[user@]host[:port][/…]`, the port from `defaultPorts` by
    /// scheme when the URL has none; nil for anything else (a `file://` spool, say).
    public static func endpoint(ofURL url: String, defaultPorts: [String: Int] = ["smtp": 25, "smtps": 465, "http": 80, "https": 443]) -> Endpoint? {
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        var authority = url[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        let host: Substring, portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let rest = authority[authority.index(after: close)...]
            portText = rest.hasPrefix(":") ? rest.dropFirst() : nil
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
            portText = nil
        }
        guard !host.isEmpty else { return nil }
        let port = if let portText { Int(portText) } else { defaultPorts[scheme] }
        guard let port, (1...65535).contains(port) else { return nil }
        return Endpoint(host: String(host), port: port)
    }

    /// The check for `/readyz`.
    public func check() async -> ReadinessCheck {
        let now = ContinuousClock.now
        let (previous, start) = state.withLock { state -> (ReadinessCheck?, Bool) in
            if let last = state.last, let at = state.checkedAt, now - at < interval { return (last, false) }
            if state.running { return (state.last, false) }
            state.running = true
            return (state.last, true)
        }
        guard start else { return previous ?? ReadinessCheck(name: name, state: .degraded, detail: "being checked") }

        let waiting = Mutex<CheckedContinuation<ReadinessCheck?, Never>?>(nil)
        let answer: @Sendable (ReadinessCheck?) -> Void = { result in
            waiting.withLock { continuation in
                continuation?.resume(returning: result)
                continuation = nil
            }
        }
        let fresh = await withCheckedContinuation { continuation in
            waiting.withLock { $0 = continuation }
            DispatchQueue.global().async { [self] in
                let result = probe()
                state.withLock { state in
                    state.last = result
                    state.checkedAt = .now
                    state.running = false
                }
                answer(result)
            }
            let patience = connectTimeout + .seconds(1)
            Task {
                try? await Task.sleep(for: patience)
                answer(nil)
            }
        }
        return fresh ?? previous
            ?? ReadinessCheck(name: name, state: .degraded, detail: "no answer within \(connectTimeout + .seconds(1))")
    }

    /// Connects to every endpoint once (blocking); the first problem makes the check degraded.
    private func probe() -> ReadinessCheck {
        for endpoint in endpoints {
            if let problem = Self.connectProblem(endpoint, timeout: connectTimeout) {
                return ReadinessCheck(name: name, state: .degraded, detail: problem)
            }
        }
        return ReadinessCheck(name: name, state: .ok)
    }

    /// nil when a TCP connection to `endpoint` opened within `timeout` (it is closed at once),
    /// otherwise what went wrong.
    static func connectProblem(_ endpoint: Endpoint, timeout: Duration) -> String? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard status == 0, let first = list else {
            return "cannot resolve \(endpoint.host) (\(String(cString: gai_strerror(status))))"
        }
        defer { freeaddrinfo(list) }
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var lastProblem = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastProblem = String(cString: strerror(errno)); continue }
            defer { close(fd) }
            if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return nil }
            guard errno == EINPROGRESS else { lastProblem = String(cString: strerror(errno)); continue }
            var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var ready: Int32
            repeat { ready = poll(&descriptor, 1, milliseconds) } while ready < 0 && errno == EINTR
            guard ready > 0 else { lastProblem = "no answer within \(milliseconds) ms"; continue }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error == 0 { return nil }
            lastProblem = String(cString: strerror(error))
        }
        return "cannot connect to \(endpoint) (\(lastProblem))"
    }
}
