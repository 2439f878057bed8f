import Domain
import FoundationEssentials

/// Where the base64 text of each attachment sits in the raw request body, so attachments are
/// decoded from the body in chunks instead of being turned into Swift strings and whole byte
/// arrays: an upload of 25 MiB of attachments then needs little more memory than its body.
struct AttachmentLocator {
    /// Byte ranges (inside the quotes) of `attachments[i].content_base64`, by index `i`, for
    /// strings that are plain base64 text (no escapes other than `\/`).
    private(set) var ranges: [Int: Range<Int>] = [:]
    /// Byte range of the top-level `form` value, as sent.
    private(set) var formRange: Range<Int>?

    /// Scans `body`; nil when it is not JSON this scanner follows (JSONDecoder then reports it).
    static func locate(_ body: UnsafeRawBufferPointer) -> AttachmentLocator? {
        var scanner = Scanner(bytes: body)
        var locator = AttachmentLocator()
        scanner.skipWhitespace()
        guard scanner.peek == UInt8(ascii: "{") else { return nil }
        // Top-level object: look for "attachments".
        guard scanner.object(depth: 1, { scanner, key in
            if key == "attachments" && scanner.peek == UInt8(ascii: "[") {
                return scanner.array(depth: 2) { scanner, index in
                    guard scanner.peek == UInt8(ascii: "{") else { return scanner.skipValue(depth: 3) }
                    return scanner.object(depth: 3) { scanner, key in
                        if key == "content_base64" && scanner.peek == UInt8(ascii: "\"") {
                            guard let range = scanner.string(allowEscapes: false) else { return scanner.skipValue(depth: 4) }
                            locator.ranges[index] = range
                            return true
                        }
                        return scanner.skipValue(depth: 4)
                    }
                }
            }
            if key == "form" {
                let start = scanner.position
                guard scanner.skipValue(depth: 2) else { return false }
                locator.formRange = start..<scanner.position
                return true
            }
            return scanner.skipValue(depth: 2)
        }) else { return nil }
        return locator
    }

    /// A minimal JSON walker over bytes; every function returns false on malformed input.
    struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var position = 0
        static let maxDepth = 512

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipWhitespace() {
            while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
        }

        mutating func expect(_ byte: UInt8) -> Bool {
            skipWhitespace()
            guard peek == byte else { return false }
            position += 1
            return true
        }

        /// Walks an object; `member` is called positioned at each value and must consume it.
        mutating func object(depth: Int, _ member: (inout Scanner, String) -> Bool) -> Bool {
            guard depth < Self.maxDepth, expect(UInt8(ascii: "{")) else { return false }
            skipWhitespace()
            if peek == UInt8(ascii: "}") { position += 1; return true }
            while true {
                skipWhitespace()
                guard let keyRange = string(allowEscapes: true) else { return false }
                let key = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[keyRange]), as: UTF8.self)
                guard expect(UInt8(ascii: ":")) else { return false }
                skipWhitespace()
                guard member(&self, key) else { return false }
                skipWhitespace()
                if peek == UInt8(ascii: ",") { position += 1; continue }
                return expect(UInt8(ascii: "}"))
            }
        }

        mutating func array(depth: Int, _ element: (inout Scanner, Int) -> Bool) -> Bool {
            guard depth < Self.maxDepth, expect(UInt8(ascii: "[")) else { return false }
            skipWhitespace()
            if peek == UInt8(ascii: "]") { position += 1; return true }
            var index = 0
            while true {
                skipWhitespace()
                guard element(&self, index) else { return false }
                index += 1
                skipWhitespace()
                if peek == UInt8(ascii: ",") { position += 1; continue }
                return expect(UInt8(ascii: "]"))
            }
        }

        /// The range inside the quotes of the string at the position. With `allowEscapes` false,
        /// only `\/` may appear (nil otherwise, position unchanged).
        mutating func string(allowEscapes: Bool) -> Range<Int>? {
            let start = position
            guard peek == UInt8(ascii: "\"") else { return nil }
            var index = position + 1
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    position = index + 1
                    return (start + 1)..<index
                }
                if byte == UInt8(ascii: "\\") {
                    guard index + 1 < bytes.count else { return nil }
                    if !allowEscapes && bytes[index + 1] != UInt8(ascii: "/") { position = start; return nil }
                    index += 2
                    continue
                }
                if byte < 0x20 { return nil }
                index += 1
            }
            return nil
        }

        mutating func skipValue(depth: Int) -> Bool {
            skipWhitespace()
            guard let byte = peek else { return false }
            switch byte {
            case UInt8(ascii: "{"): return object(depth: depth) { scanner, _ in scanner.skipValue(depth: depth + 1) }
            case UInt8(ascii: "["): return array(depth: depth) { scanner, _ in scanner.skipValue(depth: depth + 1) }
            case UInt8(ascii: "\""): return string(allowEscapes: true) != nil
            default:
                // Numbers and literals: run to the next delimiter; JSONDecoder checks their syntax.
                let start = position
                while let next = peek, next != UInt8(ascii: ","), next != UInt8(ascii: "}"), next != UInt8(ascii: "]"),
                      next != 0x20, next != 0x0A, next != 0x0D, next != 0x09 { position += 1 }
                return position > start
            }
        }
    }
}

/// Facts about a JSON value given as text (already known to be well-formed).
enum JSONText {
    /// Nesting depth: a scalar is 0, `{}` is 1, `{"a":[1]}` is 2.
    static func depth(_ text: UnsafeRawBufferPointer) -> Int {
        var depth = 0, deepest = 0, inString = false, escaped = false
        for byte in text {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1; deepest = max(deepest, depth)
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
        }
        return deepest
    }

    /// Whether the text holds the escape `\u0000`, which PostgreSQL's jsonb refuses.
    static func containsEscapedNUL(_ text: UnsafeRawBufferPointer) -> Bool {
        let needle = Array("\\u0000".utf8)
        guard text.count >= needle.count else { return false }
        var index = 0
        while index <= text.count - needle.count {
            if text[index] == needle[0] {
                // Count the backslashes before: an even run means this one starts an escape.
                var run = 0, back = index - 1
                while back >= 0 && text[back] == needle[0] { run += 1; back -= 1 }
                if run % 2 == 0 && text[index + 1] == needle[1] && (2..<6).allSatisfy({ text[index + $0] == needle[$0] }) { return true }
            }
            index += 1
        }
        return false
    }
}

/// Strict base64 (RFC 4648 §4, padding only at the end, `\/` read as `/`) decoded from a range
/// of the request body in chunks of about `chunkSize` bytes.
struct Base64ChunkReader {
    let body: [UInt8]
    private var index: Int
    private let end: Int
    private let blockCharacters: Int
    private var sawPadding = false
    /// Set when the text turned out not to be strict base64.
    private(set) var failed = false

    init(body: [UInt8], range: Range<Int>, chunkSize: Int = 1 << 20) {
        self.body = body
        index = range.lowerBound
        end = range.upperBound
        blockCharacters = max(1, chunkSize / 3) * 4
    }

    /// The next decoded chunk; nil at the end or on malformed text (then `failed` is set).
    mutating func next() -> [UInt8]? {
        guard !failed, index < end else { return nil }
        var pending = [UInt8]()
        pending.reserveCapacity(min(blockCharacters, end - index))
        let ok = body.withUnsafeBufferPointer { text -> Bool in
            while index < end && pending.count < blockCharacters {
                var byte = text[index]
                if byte == UInt8(ascii: "\\") {
                    guard index + 1 < end, text[index + 1] == UInt8(ascii: "/") else { return false }
                    byte = UInt8(ascii: "/")
                    index += 1
                }
                index += 1
                if sawPadding && byte != UInt8(ascii: "=") { return false }
                if byte == UInt8(ascii: "=") { sawPadding = true }
                pending.append(byte)
            }
            return true
        }
        guard ok, pending.count % 4 == 0, let decoded = pending.withUnsafeBytes({ Base64.decode(bytes: $0) }) else {
            failed = true
            return nil
        }
        return decoded
    }

    /// Size and SHA-256 of the whole text decoded, or nil when it is not strict base64; every
    /// decoded chunk is fed to `sniffer` on the way.
    static func measure(body: [UInt8], range: Range<Int>, feeding sniffer: inout AttachmentSniffer) -> (size: Int, sha256: [UInt8])? {
        var reader = Base64ChunkReader(body: body, range: range)
        var hasher = SHA256()
        var size = 0
        while let chunk = reader.next() {
            size += chunk.count
            hasher.update(chunk)
            sniffer.feed(chunk)
        }
        return reader.failed ? nil : (size, hasher.finalize())
    }
}

/// Hands the scanner's ranges to ``Submission/AttachmentUpload`` while JSONDecoder runs.
final class AttachmentRanges: Sendable {
    let ranges: [Int: Range<Int>]
    let formRange: Range<Int>?
    init(_ ranges: [Int: Range<Int>], formRange: Range<Int>?) {
        self.ranges = ranges
        self.formRange = formRange
    }
    static let userInfoKey = CodingUserInfoKey(rawValue: "amtsweg.attachmentRanges")!
}
