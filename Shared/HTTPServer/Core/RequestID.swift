/// Request ids: always our own, fresh and random (what logs and the audit log record); a sane id
/// the client sent is kept beside it as the client's correlation id.
public enum RequestID {
    /// The header that carries the id both ways.
    public static let headerName = "X-Request-Id"

    /// A client-supplied id is kept (as its correlation id) when it has 1…128 characters from
    /// `A-Z a-z 0-9 - _ . :`. Anything else (spaces, quotes, control characters, very long) is
    /// dropped, so what is kept is always safe to log.
    public static func isSane(_ candidate: String) -> Bool {
        let bytes = candidate.utf8
        guard !bytes.isEmpty, bytes.count <= 128 else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: ":"):
                true
            default:
                false
            }
        }
    }

    /// 32 lowercase hex digits from the system's random generator.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64, low = generator.next() as UInt64
        return hex16(high) + hex16(low)
    }

    /// The client's correlation id from these headers, if it sent a sane one.
    static func clientID(from headers: HTTPHeaders) -> String? {
        headers[headerName].flatMap { isSane($0) ? $0 : nil }
    }

    private static func hex16(_ value: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0..<16 {
                buffer[index] = digits[Int((value >> (UInt64(15 - index) * 4)) & 0xF)]
            }
            return 16
        }
    }
}
