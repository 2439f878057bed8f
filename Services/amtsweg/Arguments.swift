/// A usage error: printed with a hint, exit status 2.
struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Parsed command line: positional words and `--name value` / `--flag` options (repeatable).
struct Arguments {
    var positional: [String] = []
    private var options: [String: [String]] = [:]
    private var consumed: Set<String> = []

    /// Options that take no value.
    static let flags: Set<String> = ["json", "admin", "no-email-notifications", "inactive", "decisions-via-back-channel", "fallback", "status", "help"]

    init(_ words: [String]) throws {
        var index = 0
        while index < words.count {
            let word = words[index]
            if word.hasPrefix("--") && word.count > 2 {
                var name = String(word.dropFirst(2))
                var value: String?
                if let eq = name.firstIndex(of: "=") {
                    value = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                if Self.flags.contains(name) {
                    guard value == nil else { throw UsageError("--\(name) takes no value") }
                    options[name, default: []].append("true")
                } else {
                    if value == nil {
                        index += 1
                        guard index < words.count, !words[index].hasPrefix("--") else { throw UsageError("--\(name) needs a value") }
                        value = words[index]
                    }
                    options[name, default: []].append(value!)
                }
            } else {
                positional.append(word)
            }
            index += 1
        }
    }

    mutating func flag(_ name: String) -> Bool {
        consumed.insert(name)
        return options[name] != nil
    }

    mutating func optional(_ name: String) throws -> String? {
        consumed.insert(name)
        guard let values = options[name] else { return nil }
        guard values.count == 1 else { throw UsageError("--\(name) given more than once") }
        return values[0]
    }

    mutating func required(_ name: String) throws -> String {
        guard let value = try optional(name) else { throw UsageError("--\(name) is required") }
        guard !value.isEmpty else { throw UsageError("--\(name) must not be empty") }
        return value
    }

    mutating func all(_ name: String) -> [String] {
        consumed.insert(name)
        return options[name] ?? []
    }

    mutating func int(_ name: String) throws -> Int? {
        guard let text = try optional(name) else { return nil }
        guard let value = Int(text) else { throw UsageError("--\(name) must be an integer") }
        return value
    }

    /// Refuses options nobody asked for (typos must not pass silently).
    func checkNoUnknownOptions() throws {
        let unknown = options.keys.filter { !consumed.contains($0) }.sorted()
        if let first = unknown.first { throw UsageError("unknown option --\(first)") }
    }
}
