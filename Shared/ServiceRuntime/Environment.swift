import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// A configuration variable is missing or wrong. The message names the variable and never
/// repeats a secret's value.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The environment variable at fault, e.g. `HTTP_PORT` or `DATABASE_URL_FILE`.
    public var variable: String
    public var problem: String

    public init(variable: String, problem: String) {
        self.variable = variable
        self.problem = problem
    }

    public var description: String { "configuration error: \(variable) \(problem)" }
}

/// Typed reads of environment variables. An empty value counts as unset.
///
/// Secrets may instead come from a file named by `NAME_FILE` (Docker and Kubernetes secrets);
/// see ``secret(_:default:)``.
public struct Environment: Sendable {
    private let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    /// The raw value, nil when unset or empty.
    public subscript(name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    /// A required string, or `default` when unset.
    public func string(_ name: String, default defaultValue: String? = nil) throws -> String {
        if let value = self[name] { return value }
        if let defaultValue { return defaultValue }
        throw ConfigurationError(variable: name, problem: "is required but not set")
    }

    /// An integer within `range`.
    public func int(_ name: String, default defaultValue: Int? = nil, range: ClosedRange<Int>? = nil) throws -> Int {
        guard let text = self[name] else {
            if let defaultValue { return defaultValue }
            throw ConfigurationError(variable: name, problem: "is required but not set")
        }
        let rangeText = range.map { " between \($0.lowerBound) and \($0.upperBound)" } ?? ""
        guard let value = Int(text), range?.contains(value) ?? true else {
            throw ConfigurationError(variable: name, problem: "must be an integer\(rangeText) (got \"\(text.prefix(40))\")")
        }
        return value
    }

    /// `true/false`, `1/0`, `yes/no`, `on/off`.
    public func bool(_ name: String, default defaultValue: Bool) throws -> Bool {
        guard let text = self[name]?.lowercased() else { return defaultValue }
        switch text {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError(variable: name, problem: "must be true or false (got \"\(text.prefix(40))\")")
        }
    }

    /// A duration in seconds (decimals allowed), at least zero.
    public func seconds(_ name: String, default defaultValue: Duration) throws -> Duration {
        guard let text = self[name] else { return defaultValue }
        guard let value = Double(text), value >= 0, value.isFinite else {
            throw ConfigurationError(variable: name, problem: "must be a number of seconds (got \"\(text.prefix(40))\")")
        }
        return .milliseconds(Int64(value * 1000))
    }

    /// A log level name (`debug`, `info`, `warning`, `error`).
    public func logLevel(_ name: String = "LOG_LEVEL", default defaultValue: LogLevel = .info) throws -> LogLevel {
        guard let text = self[name] else { return defaultValue }
        guard let level = LogLevel(name: text) else {
            throw ConfigurationError(variable: name, problem: "must be debug, info, warning or error (got \"\(text.prefix(40))\")")
        }
        return level
    }

    /// A secret from `NAME`, or from the file named by `NAME_FILE` (one trailing newline is
    /// dropped). Setting both is an error, so a stale variable cannot silently win.
    public func secret(_ name: String, default defaultValue: String? = nil) throws -> String {
        if let value = try optionalSecret(name) { return value }
        if let defaultValue { return defaultValue }
        throw ConfigurationError(variable: name, problem: "is required but neither it nor \(name)_FILE is set")
    }

    /// A secret that may be left out: `NAME`, or the contents of the file `NAME_FILE` names
    /// (one trailing newline removed); nil when neither is set.
    public func optionalSecret(_ name: String) throws -> String? {
        let fileVariable = name + "_FILE"
        switch (self[name], self[fileVariable]) {
        case (.some, .some):
            throw ConfigurationError(variable: name, problem: "and \(fileVariable) are both set; set only one")
        case (.some(let value), nil):
            return value
        case (nil, .some(let path)):
            guard let data = FileManager.default.contents(atPath: path), var text = String(data: data, encoding: .utf8) else {
                throw ConfigurationError(variable: fileVariable, problem: "names a file that cannot be read as UTF-8 text (\(path))")
            }
            if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
            guard !text.isEmpty else { throw ConfigurationError(variable: fileVariable, problem: "names an empty file (\(path))") }
            return text
        case (nil, nil):
            return nil
        }
    }
}
