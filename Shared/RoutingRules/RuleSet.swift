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

    /// Problems of a service's rule list, as an admin saves it: every rule valid, positions
    /// unique and not negative, at most ``RoutingLimits/maxRulesPerService`` rules, and no rule
    /// behind a `default` rule (it could never match). `rules` are `(position, kind, definition)`;
    /// errors name `rules[i]` by index in `rules`. `earlier` are rules already stored that stay as
    /// they are (rules appended behind them): only their positions and kinds count.
    public static func validate(
        _ rules: [(position: Int, kind: String, definition: JSONValue)],
        following earlier: [(position: Int, kind: AreaRuleKind)] = []
    ) throws(RuleValidationError) -> [RoutingRule] {
        var errors: [RuleFieldError] = []
        var parsed: [RoutingRule] = []
        var seen: [Int: Int] = [:]
        let stored = Set(earlier.map(\.position))
        for (index, entry) in rules.enumerated() {
            if entry.position < 0 {
                errors.append(RuleFieldError(field: "rules[\(index)].position", reason: "must not be negative"))
            } else if let earlier = seen[entry.position] {
                errors.append(RuleFieldError(field: "rules[\(index)].position", code: "duplicate-position",
                                             reason: "\(entry.position) is already taken by rules[\(earlier)]"))
            } else if stored.contains(entry.position) {
                errors.append(RuleFieldError(field: "rules[\(index)].position", code: "duplicate-position",
                                             reason: "\(entry.position) is already taken by a stored rule"))
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
            let storedDefault = earlier.filter { $0.kind == .default }.map(\.position).min()
            let newDefault = order.first { parsed[$0].kind == .default }
            let cutoff: (position: Int, name: String)? = switch (storedDefault, newDefault) {
            case (let stored?, let index?) where rules[index].position < stored: (rules[index].position, "the default rule rules[\(index)]")
            case (let stored?, _): (stored, "the service's stored default rule")
            case (nil, let index?): (rules[index].position, "the default rule rules[\(index)]")
            case (nil, nil): nil
            }
            if let cutoff {
                for index in order where rules[index].position > cutoff.position {
                    errors.append(RuleFieldError(field: "rules[\(index)].position", code: "unreachable",
                        reason: "can never match: \(cutoff.name) at position \(cutoff.position) matches everything before it; put the default rule last"))
                }
            }
        }
        if rules.count + earlier.count > RoutingLimits.maxRulesPerService {
            errors.append(RuleFieldError(field: "rules", code: "too-many", reason: "a service has at most \(RoutingLimits.maxRulesPerService) rules"))
        }
        if !errors.isEmpty { throw RuleValidationError(errors) }
        return parsed
    }
}
