#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Turns a response into the bytes on the wire. The server, not the responder, owns framing:
/// `Content-Length`, `Transfer-Encoding` and `Connection` set by a responder are replaced.
enum ResponseSerializer {
    /// How the response is to be framed for this request.
    struct Framing {
        var requestID: String
        var keepAlive: Bool
        var requestVersion: HTTPVersion
        var isHeadRequest: Bool
    }

    /// How the body's end is marked on the wire.
    enum BodyLength {
        case length(Int)
        case chunked
        /// HTTP/1.0 streaming of unknown length: the body ends when the connection closes.
        case untilClose
    }

    /// Head and in-memory body.
    static func serialize(_ response: HTTPResponse, _ framing: Framing) -> [UInt8] {
        var out = serializeHead(response, framing, bodyLength: .length(response.body.count), reserving: response.body.count)
        if !framing.isHeadRequest && !response.status.forbidsBody {
            out.append(contentsOf: response.body)
        }
        return out
    }

    /// Status line and header fields, ending with the empty line.
    static func serializeHead(_ response: HTTPResponse, _ framing: Framing, bodyLength: BodyLength, reserving extra: Int = 0) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + extra)
        append("HTTP/1.1 ", to: &out)
        append(String(response.status.code), to: &out)
        out.append(HTTPSyntax.space)
        appendSanitized(response.status.reasonPhrase, to: &out)
        append("\r\n", to: &out)

        var hasDate = false, hasRequestID = false
        for field in response.headers {
            if HTTPHeaders.namesEqual(field.name, "Content-Length") || HTTPHeaders.namesEqual(field.name, "Transfer-Encoding")
                || HTTPHeaders.namesEqual(field.name, "Connection") { continue }
            guard HTTPSyntax.isTokenString(field.name) else { continue }
            if HTTPHeaders.namesEqual(field.name, "Date") { hasDate = true }
            if HTTPHeaders.namesEqual(field.name, RequestID.headerName) { hasRequestID = true }
            append(field.name, to: &out)
            append(": ", to: &out)
            appendSanitized(field.value, to: &out)
            append("\r\n", to: &out)
        }
        if !hasRequestID {
            append(RequestID.headerName, to: &out)
            append(": ", to: &out)
            appendSanitized(framing.requestID, to: &out)
            append("\r\n", to: &out)
        }
        if !hasDate {
            append("Date: ", to: &out)
            append(HTTPDate.now(), to: &out)
            append("\r\n", to: &out)
        }
        if !response.status.forbidsBody {
            switch bodyLength {
            case .length(let count):
                append("Content-Length: ", to: &out)
                append(String(count), to: &out)
                append("\r\n", to: &out)
            case .chunked:
                append("Transfer-Encoding: chunked\r\n", to: &out)
            case .untilClose:
                break
            }
        }
        if !framing.keepAlive {
            append("Connection: close\r\n", to: &out)
        } else if framing.requestVersion == .http1_0 {
            append("Connection: keep-alive\r\n", to: &out)
        }
        append("\r\n", to: &out)
        return out
    }

    /// One chunk of a chunked body: size in hex, CRLF, data, CRLF.
    static func chunk(_ bytes: [UInt8]) -> [UInt8] {
        var out = Array(String(bytes.count, radix: 16).utf8)
        out.reserveCapacity(out.count + bytes.count + 4)
        out.append(HTTPSyntax.cr)
        out.append(HTTPSyntax.lf)
        out.append(contentsOf: bytes)
        out.append(HTTPSyntax.cr)
        out.append(HTTPSyntax.lf)
        return out
    }

    /// The last chunk and an empty trailer section.
    static let lastChunk = Array("0\r\n\r\n".utf8)

    /// The interim `100 Continue` response.
    static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    @inline(__always) private static func append(_ text: String, to out: inout [UInt8]) {
        out.append(contentsOf: text.utf8)
    }

    /// Appends a header value with control characters (CR, LF, NUL, …) replaced by spaces, so a
    /// responder can never split a response.
    private static func appendSanitized(_ text: String, to out: inout [UInt8]) {
        for byte in text.utf8 {
            out.append(HTTPSyntax.isFieldValueByte(byte) ? byte : HTTPSyntax.space)
        }
    }
}

extension HTTPSyntax {
    static func isTokenString(_ text: String) -> Bool {
        !text.utf8.isEmpty && text.utf8.allSatisfy { isTokenCharacter[Int($0)] }
    }
}

/// The IMF-fixdate for the `Date` header, computed at most once per second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))

    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let second = spec.tv_sec
        if let cached = cache.withLock({ $0.second == second ? $0.text : nil }) { return cached }
        let text = format(second)
        cache.withLock { $0 = (second, text) }
        return text
    }

    static func format(_ seconds: Int) -> String {
        var time = seconds
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
