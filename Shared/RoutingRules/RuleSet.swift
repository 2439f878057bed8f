import FoundationEssentials

/// A rule as stored: which area it sends to and where it stands in its service's order.
public struct PlacedRule: Sendable, Equatable {
    public var id: UUID?
    public var areaID: UUID
    public var position: Int
    public var rule: RoutingRule

    public init(id: UUID? = nil, areaID: UUID, position: Int, rule: RoutingRule) {
        self.id = id
        self.areaID = areaID
        self.position = position
        self.rule = rule
    }
}

/// A service's rules in evaluation order (by `position`; the first match wins).
public struct RuleSet: Sendable, Equatable {
    public let rules: [PlacedRule]

    public init(_ rules: [PlacedRule]) {
        self.rules = rules.sorted { $0.position < $1.position }
    }

    /// The first rule (by position) that matches `subject`.
    public func firstMatch(for subject: RoutingSubject) -> PlacedRule? {
        rules.first { $0.rule.matches(subject) }
    }

    /// Problems of a service's whole rule list, as an admin saves it: every rule valid, positions
    /// unique and not negative, and no rule behind a `default` rule (it could never match).
    /// `rules` are `(position, kind, definition)`; errors name `rules[i]` by index in `rules`.
    public static func validate(_ rules: [(position: Int, kind: String, definition: JSONValue)]) throws(RuleValidationError) -> [RoutingRule] {
        var errors: [RuleFieldError] = []
        var parsed: [RoutingRule] = []
        var seen: [Int: Int] = [:]
        for (index, entry) in rules.enumerated() {
            if entry.position < 0 {
                errors.append(RuleFieldError(field: "rules[\(index)].position", reason: "must not be negative"))
            } else if let earlier = seen[entry.position] {
                errors.append(RuleFieldError(field: "rules[\(index)].position", reason: "\(entry.position) is already taken by rules[\(earlier)]"))
            } else {
                seen[entry.position] = index
            }
            do {
                parsed.append(try RoutingRule(kind: entry.kind, definition: entry.definition))
            } catch {
                errors += error.prefixed("rules[\(index)].").errors
            }
        }
        if errors.isEmpty {
            let order = rules.indices.sorted { rules[$0].position < rules[$1].position }
            if let firstDefault = order.first(where: { parsed[$0].kind == .default }) {
                for index in order where rules[index].position > rules[firstDefault].position {
                    errors.append(RuleFieldError(field: "rules[\(index)].position",
                        reason: "can never match: the default rule rules[\(firstDefault)] at position \(rules[firstDefault].position) matches everything before it; put the default rule last"))
                }
            }
        }
        if !errors.isEmpty { throw RuleValidationError(errors) }
        return parsed
    }
}
