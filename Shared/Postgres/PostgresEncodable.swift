import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// One bound statement parameter as sent to the server.
public enum PostgresParameter: Sendable, Equatable {
    case null
    /// Text format; the server parses it with the parameter's inferred type.
    case text(String)
    /// Binary format with an explicit type OID (used for `bytea`).
    case binary([UInt8], oid: UInt32)
}

/// A Swift value that can be bound as a statement parameter.
public protocol PostgresEncodable: Sendable {
    var postgresParameter: PostgresParameter { get }
}

extension String: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(self) }
}

extension Substring: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
}

extension Int: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
}

extension Int64: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
}

extension Int32: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
}

extension Int16: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
}

extension Bool: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(self ? "t" : "f") }
}

extension Double: PostgresEncodable {
    public var postgresParameter: PostgresParameter {
        if isNaN { return .text("NaN") }
        if isInfinite { return .text(self > 0 ? "Infinity" : "-Infinity") }
        return .text(String(self))
    }
}

extension UUID: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(uuidString) }
}

extension Date: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(PostgresTimestamp.format(self)) }
}

extension Data: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .binary([UInt8](self), oid: PostgresOID.bytea) }
}

extension Array: PostgresEncodable where Element: PostgresArrayElement {
    /// Sent as an array literal (`{"a","b"}`); cast in SQL where the type is not inferable (`$1::bigint[]`).
    public var postgresParameter: PostgresParameter {
        var literal = "{"
        for (index, element) in enumerated() {
            if index > 0 { literal += "," }
            literal += element.arrayLiteralElement
        }
        return .text(literal + "}")
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresParameter: PostgresParameter {
        switch self {
        case .none: .null
        case .some(let value): value.postgresParameter
        }
    }
}

/// Values that may stand inside an array parameter.
public protocol PostgresArrayElement: PostgresEncodable {
    var arrayLiteralElement: String { get }
}

extension PostgresArrayElement {
    public var arrayLiteralElement: String {
        guard case .text(let text) = postgresParameter else { return "NULL" }
        var quoted = "\""
        for character in text {
            if character == "\"" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "\""
    }
}

extension Optional: PostgresArrayElement where Wrapped: PostgresArrayElement {
    public var arrayLiteralElement: String {
        switch self {
        case .none: "NULL"
        case .some(let value): value.arrayLiteralElement
        }
    }
}

extension PostgresRawJSON: PostgresArrayElement {}
extension String: PostgresArrayElement {}
extension Int: PostgresArrayElement {}
extension Int64: PostgresArrayElement {}
extension Int32: PostgresArrayElement {}
extension UUID: PostgresArrayElement {}
extension Bool: PostgresArrayElement {}
extension Double: PostgresArrayElement {}
extension Date: PostgresArrayElement {}

/// A value sent and read as JSON text (`json`/`jsonb` columns) through `Codable`.
public struct PostgresJSON<Value: Codable & Sendable>: PostgresEncodable, Sendable {
    public var value: Value
    public init(_ value: Value) { self.value = value }

    public var postgresParameter: PostgresParameter {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        guard let data = try? encoder.encode(value) else { return .null }
        return .text(String(decoding: data, as: UTF8.self))
    }
}

/// JSON text that is already serialised (e.g. a request body passed through). The server checks it.
public struct PostgresRawJSON: PostgresEncodable, Sendable {
    public var text: String
    public init(_ text: String) { self.text = text }
    public init(_ data: Data) { self.text = String(decoding: data, as: UTF8.self) }
    public var postgresParameter: PostgresParameter { .text(text) }
}

/// Type OIDs the library needs to name explicitly.
public enum PostgresOID {
    public static let bytea: UInt32 = 17
}
