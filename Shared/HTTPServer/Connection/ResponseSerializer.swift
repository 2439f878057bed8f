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

    static func serialize(_ response: HTTPResponse, _ framing: Framing) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + response.body.count)
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
            append("Content-Length: ", to: &out)
            append(String(response.body.count), to: &out)
            append("\r\n", to: &out)
        }
        if !framing.keepAlive {
            append("Connection: close\r\n", to: &out)
        } else if framing.requestVersion == .http1_0 {
            append("Connection: keep-alive\r\n", to: &out)
        }
        append("\r\n", to: &out)
        if !framing.isHeadRequest && !response.status.forbidsBody {
            out.append(contentsOf: response.body)
        }
        return out
    }

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
