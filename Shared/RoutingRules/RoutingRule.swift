/// Kinds of routing rules (schema CHECK `area_rules_kind_check`).
public enum AreaRuleKind: String, Sendable, Codable, CaseIterable {
    case municipalityKeys = "municipality_keys"
    case postalCodes = "postal_codes"
    case formField = "form_field"
    case `default`
}

/// A rule of a responsibility area: the condition under which an application of the service
/// goes to that area. Build one with ``init(kind:definition:)``, which validates; a value of this
/// type is always valid, so evaluation never meets a broken rule.
///
/// Definitions (the `definition` jsonb of `area_rules`):
/// - `municipality_keys`: `{"values": ["05370016", …]}` — the applicant's 8-digit AGS
///   (`applicant.address.municipality_key`) is one of the values.
/// - `postal_codes`: `{"values": ["52525", "5253", "52500-52599"]}` — the applicant's postal code
///   equals a 5-digit value, starts with a shorter one, or lies in an inclusive `NNNNN-NNNNN` range.
/// - `form_field`: `{"field": "vehicle.kind", "values": ["car", 2, true]}` — the form's value at
///   the dotted path equals one of the values (strings, numbers, booleans; numbers by value).
/// - `default`: `{}` — matches every application.
public struct RoutingRule: Sendable, Equatable {
    public enum Condition: Sendable, Equatable {
        case municipalityKeys([String])
        case postalCodes([PostalCodePattern])
        case formField(path: [String], values: [JSONValue])
        case matchAll
    }

    public let condition: Condition

    public var kind: AreaRuleKind {
        switch condition {
        case .municipalityKeys: .municipalityKeys
        case .postalCodes: .postalCodes
        case .formField: .formField
        case .matchAll: .default
        }
    }

    /// Validates `definition` for `kind`; throws every problem found, each naming its field.
    public init(kind: String, definition: JSONValue) throws(RuleValidationError) {
        guard let known = AreaRuleKind(rawValue: kind) else {
            throw RuleValidationError([RuleFieldError(field: "kind", reason: "must be one of municipality_keys, postal_codes, form_field, default (got \"\(kind.prefix(40))\")")])
        }
        try self.init(kind: known, definition: definition)
    }

    public init(kind: AreaRuleKind, definition: JSONValue) throws(RuleValidationError) {
        var errors: [RuleFieldError] = []
        guard case .object(let members) = definition else {
            throw RuleValidationError([RuleFieldError(field: "definition", code: "wrong-type", reason: "must be a JSON object (got \(definition.typeName))")])
        }
        let allowed: Set<String> = switch kind {
        case .municipalityKeys, .postalCodes: ["values"]
        case .formField: ["field", "values"]
        case .default: []
        }
        for key in members.keys.sorted() where !allowed.contains(key) {
            errors.append(RuleFieldError(field: "definition.\(key)", code: "unknown-setting", reason: kind == .default
                ? "a default rule takes no settings: its definition is {}" : "unknown setting for a \(kind.rawValue) rule"))
        }
        switch kind {
        case .default:
            if errors.isEmpty { self.condition = .matchAll; return }
        case .municipalityKeys:
            let values = Self.stringValues(members["values"], &errors) { index, value in
                Self.isDigits(value, count: 8) ? nil : "must be an 8-digit municipality key (AGS), e.g. \"05370016\" (got \"\(value.prefix(20))\")"
            }
            if errors.isEmpty { self.condition = .municipalityKeys(values); return }
        case .postalCodes:
            var patterns: [PostalCodePattern] = []
            let values = Self.stringValues(members["values"], &errors) { _, value in
                PostalCodePattern(value) == nil ? PostalCodePattern.problem(value) : nil
            }
            for value in values { if let pattern = PostalCodePattern(value) { patterns.append(pattern) } }
            if errors.isEmpty { self.condition = .postalCodes(patterns); return }
        case .formField:
            var path: [String] = []
            switch members["field"] {
            case .string(let field):
                if let problem = Self.fieldPathProblem(field) {
                    errors.append(RuleFieldError(field: "definition.field", reason: problem))
                } else {
                    path = field.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                }
            case nil:
                errors.append(RuleFieldError(field: "definition.field", code: "missing", reason: "is required: a dotted path into the form, e.g. \"vehicle.kind\""))
            case .some(let other):
                errors.append(RuleFieldError(field: "definition.field", code: "wrong-type", reason: "must be a string (got \(other.typeName))"))
            }
            var values: [JSONValue] = []
            switch members["values"] {
            case .array(let list):
                if list.isEmpty { errors.append(RuleFieldError(field: "definition.values", code: "missing", reason: "must list at least one value")) }
                if list.count > RoutingLimits.maxValuesPerRule {
                    errors.append(RuleFieldError(field: "definition.values", code: "too-many", reason: "must list at most \(RoutingLimits.maxValuesPerRule) values"))
                }
                for (index, value) in list.enumerated() {
                    if value.isScalar { values.append(value) } else {
                        errors.append(RuleFieldError(field: "definition.values[\(index)]", code: "wrong-type", reason: "must be a string, number or boolean (got \(value.typeName))"))
                    }
                }
            case nil:
                errors.append(RuleFieldError(field: "definition.values", code: "missing", reason: "is required: the form values that match"))
            case .some(let other):
                errors.append(RuleFieldError(field: "definition.values", code: "wrong-type", reason: "must be an array (got \(other.typeName))"))
            }
            if errors.isEmpty { self.condition = .formField(path: path, values: values); return }
        }
        throw RuleValidationError(errors)
    }

    /// The canonical `definition` jsonb of this rule.
    public var definition: JSONValue {
        switch condition {
        case .matchAll: .object([:])
        case .municipalityKeys(let keys): .object(["values": .array(keys.map(JSONValue.string))])
        case .postalCodes(let patterns): .object(["values": .array(patterns.map { .string($0.description) })])
        case .formField(let path, let values): .object(["field": .string(path.joined(separator: ".")), "values": .array(values)])
        }
    }

    /// Whether this rule sends `subject` to its area.
    public func matches(_ subject: RoutingSubject) -> Bool {
        switch condition {
        case .matchAll:
            return true
        case .municipalityKeys(let keys):
            guard let key = subject.municipalityKey?.trimmedASCII else { return false }
            return keys.contains(key)
        case .postalCodes(let patterns):
            guard let code = subject.postalCode?.trimmedASCII, !code.isEmpty else { return false }
            return patterns.contains { $0.matches(code) }
        case .formField(let path, let values):
            guard let value = subject.form?.value(at: path), value.isScalar else { return false }
            return values.contains(value)
        }
    }

    // MARK: Validation helpers

    private static func stringValues(_ raw: JSONValue?, _ errors: inout [RuleFieldError], check: (Int, String) -> String?) -> [String] {
        guard let raw else {
            errors.append(RuleFieldError(field: "definition.values", code: "missing", reason: "is required: a non-empty list"))
            return []
        }
        guard case .array(let list) = raw else {
            errors.append(RuleFieldError(field: "definition.values", code: "wrong-type", reason: "must be an array (got \(raw.typeName))"))
            return []
        }
        if list.isEmpty { errors.append(RuleFieldError(field: "definition.values", code: "missing", reason: "must list at least one value")) }
        if list.count > RoutingLimits.maxValuesPerRule {
            errors.append(RuleFieldError(field: "definition.values", code: "too-many", reason: "must list at most \(RoutingLimits.maxValuesPerRule) values"))
        }
        var strings: [String] = []
        for (index, value) in list.enumerated() {
            guard case .string(let text) = value else {
                errors.append(RuleFieldError(field: "definition.values[\(index)]", code: "wrong-type", reason: "must be a string (got \(value.typeName))"))
                continue
            }
            if let problem = check(index, text) {
                errors.append(RuleFieldError(field: "definition.values[\(index)]", reason: problem))
            } else {
                strings.append(text)
            }
        }
        return strings
    }

    static func fieldPathProblem(_ field: String) -> String? {
        if field.isEmpty || field.utf8.count > RoutingLimits.maxFieldPathLength {
            return "must be 1 to \(RoutingLimits.maxFieldPathLength) characters"
        }
        let segments = field.split(separator: ".", omittingEmptySubsequences: false)
        if segments.count > RoutingLimits.maxFieldPathDepth {
            return "must have at most \(RoutingLimits.maxFieldPathDepth) segments"
        }
        for segment in segments {
            if segment.isEmpty { return "must not have empty segments (\"a..b\", leading or trailing dot)" }
            if !segment.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45 }) {
                return "segments may hold only letters, digits, '_' and '-' (got \"\(segment.prefix(40))\")"
            }
        }
        return nil
    }

    static func isDigits(_ text: String, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
    }
}

/// One value of a `postal_codes` rule.
public enum PostalCodePattern: Sendable, Equatable, CustomStringConvertible {
    /// 1–5 digits: a 5-digit value is an exact code, a shorter one a prefix (`"5253"` → 52530–52539).
    case prefix(String)
    /// `"52500-52599"`: every 5-digit code from `lower` to `upper`, both included.
    case range(lower: Int, upper: Int)

    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        if (1...5).contains(utf8.count), utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            self = .prefix(text)
            return
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, RoutingRule.isDigits(String(parts[0]), count: 5), RoutingRule.isDigits(String(parts[1]), count: 5),
              let lower = Int(parts[0]), let upper = Int(parts[1]), lower <= upper
        else { return nil }
        self = .range(lower: lower, upper: upper)
    }

    /// Why `text` is not a pattern.
    static func problem(_ text: String) -> String {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        if parts.count == 2, RoutingRule.isDigits(String(parts[0]), count: 5), RoutingRule.isDigits(String(parts[1]), count: 5) {
            return "range must not run backwards: \(parts[0]) is above \(parts[1])"
        }
        return "must be a postal code or prefix of 1 to 5 digits (\"52525\", \"5253\") or a range of two 5-digit codes (\"52500-52599\") (got \"\(text.prefix(20))\")"
    }

    public var description: String {
        switch self {
        case .prefix(let digits): digits
        case .range(let lower, let upper): Self.fiveDigits(lower) + "-" + Self.fiveDigits(upper)
        }
    }

    public func matches(_ code: String) -> Bool {
        switch self {
        case .prefix(let digits):
            return code.hasPrefix(digits)
        case .range(let lower, let upper):
            guard RoutingRule.isDigits(code, count: 5), let value = Int(code) else { return false }
            return value >= lower && value <= upper
        }
    }

    private static func fiveDigits(_ value: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, 5 - text.count)) + text
    }
}

/// What rules look at: from the application's applicant address and form.
public struct RoutingSubject: Sendable, Equatable {
    public var municipalityKey: String?
    public var postalCode: String?
    public var form: JSONValue?

    public init(municipalityKey: String? = nil, postalCode: String? = nil, form: JSONValue? = nil) {
        self.municipalityKey = municipalityKey
        self.postalCode = postalCode
        self.form = form
    }
}

/// A problem with one field of a rule, for the admin API's field-level 422.
public struct RuleFieldError: Sendable, Equatable, Codable, CustomStringConvertible {
    /// e.g. `kind`, `definition.values[2]`, `rules[3].definition.field`.
    public var field: String
    /// Stable: `invalid`, `missing`, `wrong-type`, `too-many`, `unknown-setting` (a rule), and for
    /// rule lists `duplicate-position`, `unreachable` (behind a default rule).
    public var code: String
    public var reason: String

    public init(field: String, code: String = "invalid", reason: String) {
        self.field = field
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(field): \(reason)" }
}

/// Every problem found in a rule or a rule list.
public struct RuleValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var errors: [RuleFieldError]
    public init(_ errors: [RuleFieldError]) { self.errors = errors }

    /// The same errors with `prefix` before each field (`rules[3].`).
    public func prefixed(_ prefix: String) -> RuleValidationError {
        RuleValidationError(errors.map { RuleFieldError(field: prefix + $0.field, code: $0.code, reason: $0.reason) })
    }

    public var description: String { errors.map(\.description).joined(separator: "; ") }
}

/// Named limits on rules.
public enum RoutingLimits {
    /// Values of one `municipality_keys`, `postal_codes` or `form_field` rule.
    public static let maxValuesPerRule = 1000
    /// Length of a `form_field` path.
    public static let maxFieldPathLength = 200
    /// Segments of a `form_field` path.
    public static let maxFieldPathDepth = 10
    /// Rules of one service (a save-time limit: a list routing evaluates for every application).
    public static let maxRulesPerService = 1000
}

extension String {
    var trimmedASCII: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
