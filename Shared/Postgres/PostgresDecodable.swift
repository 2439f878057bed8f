import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// A Swift value that can be read from a column in text format.
public protocol PostgresDecodable: Sendable {
    /// Decodes the column's text bytes (never NULL; NULL is handled by the caller).
    static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Self?
}

extension String: PostgresDecodable {
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> String? {
        String(decoding: bytes, as: UTF8.self)
    }
}

private func parseInteger<T: FixedWidthInteger>(_ bytes: UnsafeBufferPointer<UInt8>) -> T? {
    guard !bytes.isEmpty else { return nil }
    var index = 0
    var negative = false
    if bytes[0] == 45 { negative = true; index = 1 }
    guard index < bytes.count else { return nil }
    var value: T = 0
    while index < bytes.count {
        let byte = bytes[index]
        guard byte >= 48 && byte <= 57 else { return nil }
        let digit = T(byte - 48)
        let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (added, overflow2) = negative ? multiplied.subtractingReportingOverflow(digit) : multiplied.addingReportingOverflow(digit)
        if overflow1 || overflow2 { return nil }
        value = added
        index += 1
    }
    return value
}

extension Int: PostgresDecodable {
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Int? { parseInteger(bytes) }
}

extension Int64: PostgresDecodable {
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Int64? { parseInteger(bytes) }
}

extension Int32: PostgresDecodable {
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Int32? { parseInteger(bytes) }
}

extension Int16: PostgresDecodable {
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Int16? { parseInteger(bytes) }
}

extension Double: PostgresDecodable {
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        Double(String(decoding: bytes, as: UTF8.self))
    }
}

extension Bool: PostgresDecodable {
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Bool? {
        guard bytes.count == 1 else { return nil }
        switch bytes[0] {
        case UInt8(ascii: "t"): return true
        case UInt8(ascii: "f"): return false
        default: return nil
        }
    }
}

extension UUID: PostgresDecodable {
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> UUID? {
        UUID(uuidString: String(decoding: bytes, as: UTF8.self))
    }
}

extension Date: PostgresDecodable {
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        PostgresTimestamp.parse(bytes)
    }
}

extension Data: PostgresDecodable {
    /// `bytea` in hex output format (`\x0a0b…`), the server default since 9.0.
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> Data? {
        guard bytes.count >= 2, bytes[0] == 92, bytes[1] == 120, bytes.count % 2 == 0 else { return nil }
        func nibble(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 48...57: byte - 48
            case 97...102: byte - 87
            case 65...70: byte - 55
            default: nil
            }
        }
        var output = [UInt8](repeating: 0, count: (bytes.count - 2) / 2)
        var index = 2
        var outIndex = 0
        while index < bytes.count {
            guard let high = nibble(bytes[index]), let low = nibble(bytes[index + 1]) else { return nil }
            output[outIndex] = high << 4 | low
            outIndex += 1
            index += 2
        }
        return Data(output)
    }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    /// One-dimensional arrays in text output format, e.g. `{1,2,NULL}` or `{"a b","c\"d"}`.
    /// NULL elements are not supported and fail decoding.
    public static func decode(postgresText bytes: UnsafeBufferPointer<UInt8>) -> [Element]? {
        guard bytes.count >= 2, bytes.first == 123, bytes.last == 125 else { return nil }
        var elements: [Element] = []
        var index = 1
        let end = bytes.count - 1
        if index == end { return [] }
        while index < end {
            var item: [UInt8] = []
            var quoted = false
            if bytes[index] == 34 {
                quoted = true
                index += 1
                while index < end, bytes[index] != 34 {
                    if bytes[index] == 92 { index += 1 }
                    guard index < end else { return nil }
                    item.append(bytes[index])
                    index += 1
                }
                index += 1
            } else {
                while index < end, bytes[index] != 44 {
                    item.append(bytes[index])
                    index += 1
                }
            }
            if !quoted && item == [UInt8]("NULL".utf8) { return nil }
            guard let element = item.withUnsafeBufferPointer({ Element.decode(postgresText: $0) }) else { return nil }
            elements.append(element)
            index += 1
        }
        return elements
    }
}
