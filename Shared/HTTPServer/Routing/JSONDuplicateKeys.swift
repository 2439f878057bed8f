/// Finds the first object member name that occurs twice in one object of a JSON text.
///
/// RFC 8259 leaves duplicate names to the reader ("the behavior … is unpredictable"), and
/// readers differ (first wins, last wins, error): a proxy, a validator and we could each see a
/// different value. So every JSON body is checked first and a duplicate is refused (422 naming
/// it). Names are compared after unescaping (`"a"` and `"\u0061"` are the same name).
///
/// One linear pass, no allocation per value; it assumes nothing of validity beyond what it needs
/// (malformed JSON is left to the decoder, which reports it).
public enum JSONDuplicateKeys {
    /// The path of the first duplicate name (`applicant.address.postal_code`,
    /// `attachments[1].filename`), or nil when every object's names are distinct.
    public static func firstDuplicate(in text: UnsafeRawBufferPointer) -> String? {
        var scanner = Scanner(bytes: text)
        return scanner.run()
    }

    public static func firstDuplicate(in bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { firstDuplicate(in: $0) }
    }

    private enum Container {
        /// An object: its names so far, the name of the member being read, and whether a name comes next.
        case object(names: Set<[UInt8]>, current: [UInt8]?, expectingName: Bool)
        /// An array: the index of the element being read.
        case array(index: Int)
    }

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var position = 0
        var stack: [Container] = []

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func run() -> String? {
            while position < bytes.count {
                let byte = bytes[position]
                switch byte {
                case UInt8(ascii: "{"):
                    stack.append(.object(names: [], current: nil, expectingName: true))
                    position += 1
                case UInt8(ascii: "["):
                    stack.append(.array(index: 0))
                    position += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if !stack.isEmpty { stack.removeLast() }
                    position += 1
                case UInt8(ascii: ","):
                    switch stack.last {
                    case .object(let names, _, _): stack[stack.count - 1] = .object(names: names, current: nil, expectingName: true)
                    case .array(let index): stack[stack.count - 1] = .array(index: index + 1)
                    case nil: break
                    }
                    position += 1
                case UInt8(ascii: "\""):
                    position += 1
                    if case .object(var names, _, true) = stack.last {
                        guard let name = readString(decoding: true) else { return nil }
                        if !names.insert(name).inserted {
                            return path(endingWith: name)
                        }
                        stack[stack.count - 1] = .object(names: names, current: name, expectingName: false)
                    } else {
                        guard readString(decoding: false) != nil else { return nil }
                    }
                default:
                    position += 1
                }
            }
            return nil
        }

        /// Reads a string body after its opening quote; its unescaped bytes when `decoding`
        /// (else an empty array), nil when the text ends inside it.
        mutating func readString(decoding: Bool) -> [UInt8]? {
            var value: [UInt8] = []
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return value
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { return nil }
                    let escaped = bytes[position]
                    position += 1
                    guard decoding else {
                        if escaped == UInt8(ascii: "u") { position += 4 }
                        continue
                    }
                    switch escaped {
                    case UInt8(ascii: "b"): value.append(0x08)
                    case UInt8(ascii: "f"): value.append(0x0C)
                    case UInt8(ascii: "n"): value.append(0x0A)
                    case UInt8(ascii: "r"): value.append(0x0D)
                    case UInt8(ascii: "t"): value.append(0x09)
                    case UInt8(ascii: "u"):
                        guard var scalar = readHex4() else { return nil }
                        // A surrogate pair is one scalar.
                        if (0xD800...0xDBFF).contains(scalar), position + 1 < bytes.count,
                           bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") {
                            let saved = position
                            position += 2
                            if let low = readHex4(), (0xDC00...0xDFFF).contains(low) {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                position = saved
                            }
                        }
                        value.append(contentsOf: Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8))
                    default: value.append(escaped)  // \" \\ \/
                    }
                default:
                    if decoding { value.append(byte) }
                }
            }
            return nil
        }

        mutating func readHex4() -> UInt32? {
            guard position + 4 <= bytes.count else { return nil }
            var result: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                position += 1
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: return nil
                }
                result = result << 4 | digit
            }
            return result
        }

        /// The path to the duplicate name: the enclosing members and indexes, then the name.
        func path(endingWith name: [UInt8]) -> String {
            var text = ""
            for container in stack.dropLast() {
                switch container {
                case .object(_, let current, _):
                    if let current {
                        if !text.isEmpty { text += "." }
                        text += String(decoding: current, as: UTF8.self)
                    }
                case .array(let index):
                    text += "[\(index)]"
                }
            }
            if !text.isEmpty { text += "." }
            return text + String(decoding: name, as: UTF8.self)
        }
    }
}
