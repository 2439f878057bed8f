import Foundation

/// A blocking TCP client for raw-socket tests. Use it only inside ``offPool(_:)`` so blocking
/// calls never occupy the cooperative threads the server's responders need.
public final class RawClient {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public let fd: Int32
    private var buffer: [UInt8] = []

    public init(port: Int, receiveTimeout: Double = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            throw Failure(description: "connect: errno \(code)")
        }
        setReceiveTimeout(receiveTimeout)
    }

    deinit { close(fd) }

    public func setReceiveTimeout(_ seconds: Double) {
        var time = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    public func setSendTimeout(_ seconds: Double) {
        var time = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends up to `count` filler bytes in 64 KiB pieces until `deadline`, stopping early when the
    /// server stops taking them (closed, reset, or a send timeout); the bytes sent.
    public func sendFiller(_ count: Int, until deadline: Date) -> Int {
        let piece = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
        var sent = 0
        while sent < count, Date() < deadline {
            let take = min(piece.count, count - sent)
            let written = piece.withUnsafeBytes { Foundation.send(fd, $0.baseAddress, take, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { break }
            sent += written
        }
        return sent
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw Failure(description: "send: errno \(errno)") }
            offset += written
        }
    }

    /// Reads more bytes into the buffer; false on EOF, throws on timeout or error.
    @discardableResult
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
        if count == 0 { return false }
        throw Failure(description: errno == EAGAIN ? "timed out waiting for the server" : "recv: errno \(errno)")
    }

    /// Reads one response (Content-Length framed; without it, until EOF).
    public func readResponse(headOnly: Bool = false) throws -> Response {
        var headEnd: Int?
        while true {
            if let end = find(Array("\r\n\r\n".utf8), in: buffer) { headEnd = end; break }
            guard try fill() else { throw Failure(description: "connection closed before a response head (got \(buffer.count) bytes)") }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        buffer.removeFirst(headEnd! + 4)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw Failure(description: "bad status line: \(head)") }
        let headers = lines.map { line -> (String, String) in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
        }
        let response = Response(status: status, headers: headers, body: [])
        if headOnly || status == 100 || status == 204 || status == 304 { return response }
        if let lengthText = response.header("Content-Length"), let length = Int(lengthText) {
            while buffer.count < length {
                guard try fill() else { throw Failure(description: "connection closed inside a body") }
            }
            var full = response
            full.body = Array(buffer[0..<length])
            buffer.removeFirst(length)
            return full
        }
        while try fill() {}
        var full = response
        full.body = buffer
        buffer = []
        return full
    }

    /// True when the server closes the connection (EOF or reset) within the receive timeout.
    public func isClosedByServer() -> Bool {
        while true {
            do {
                if try !fill() { return true }
                buffer.removeAll()
            } catch {
                return (error as? Failure)?.description.hasPrefix("recv") ?? false
            }
        }
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index] == needle[0] {
            if Array(haystack[index..<(index + needle.count)]) == needle { return index }
        }
        return nil
    }
}

/// Runs blocking work on a thread of its own, off Swift's cooperative pool (and off Dispatch's
/// width-limited global queue, which would serialize parallel tests).
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try work() })
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// One request on a fresh connection.
public func request(port: Int, _ raw: String) async throws -> RawClient.Response {
    try await offPool {
        let client = try RawClient(port: port)
        try client.send(raw)
        return try client.readResponse()
    }
}
