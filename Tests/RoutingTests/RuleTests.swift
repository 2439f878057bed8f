import Domain
import Foundation
import Routing
import Testing

/// Rule validation (what the admin API refuses, with the field at fault) and evaluation.
struct RuleTests {
    private func rule(_ kind: String, _ json: String) throws -> RoutingRule {
        try RoutingRule(kind: kind, definition: try JSONValue.parse(json))
    }

    private func errors(_ kind: String, _ json: String) throws -> [RuleFieldError] {
        let definition = try JSONValue.parse(json)
        do {
            _ = try RoutingRule(kind: kind, definition: definition)
            return []
        } catch {
            return error.errors
        }
    }

    @Test func validRulesOfEveryKind() throws {
        #expect(try rule("municipality_keys", #"{"values": ["05370016", "05370020"]}"#).kind == .municipalityKeys)
        #expect(try rule("postal_codes", #"{"values": ["52525", "5253", "52500-52599"]}"#).kind == .postalCodes)
        #expect(try rule("form_field", #"{"field": "vehicle.kind", "values": ["car", 3, true]}"#).kind == .formField)
        #expect(try rule("default", "{}").kind == .default)
    }

    @Test func invalidRulesAreRefusedNamingTheField() throws {
        #expect(try errors("zip", "{}") == [RuleFieldError(field: "kind", reason: "must be one of municipality_keys, postal_codes, form_field, default (got \"zip\")")])
        #expect(try errors("municipality_keys", #"{"values": []}"#).map(\.field) == ["definition.values"])
        #expect(try errors("municipality_keys", #"{"values": ["0537001", 5370016, "05370016"]}"#).map(\.field) == ["definition.values[0]", "definition.values[1]"])
        #expect(try errors("municipality_keys", #"{"keys": ["05370016"]}"#).map(\.field) == ["definition.keys", "definition.values"])
        #expect(try errors("postal_codes", #"{"values": "52525"}"#).map(\.field) == ["definition.values"])
        #expect(try errors("postal_codes", #"{"values": ["525255", "5252a", "52599-52500", "5250-52599", " 52525", ""]}"#).map(\.field)
                == (0..<6).map { "definition.values[\($0)]" })
        let backwards = try errors("postal_codes", #"{"values": ["52599-52500"]}"#)
        #expect(backwards.first?.reason.contains("backwards") == true)
        #expect(try errors("form_field", #"{"values": ["a"]}"#).map(\.field) == ["definition.field"])
        #expect(try errors("form_field", #"{"field": "a..b", "values": ["a"]}"#).map(\.field) == ["definition.field"])
        #expect(try errors("form_field", #"{"field": "a.b c", "values": ["a"]}"#).map(\.field) == ["definition.field"])
        #expect(try errors("form_field", #"{"field": "a", "values": [{"x": 1}, null, ["y"]]}"#).map(\.field)
                == ["definition.values[0]", "definition.values[1]", "definition.values[2]"])
        #expect(try errors("form_field", #"{"field": "a", "values": []}"#).map(\.field) == ["definition.values"])
        #expect(try errors("default", #"{"values": ["x"]}"#).map(\.field) == ["definition.values"])
        #expect(try errors("default", "[]").map(\.field) == ["definition"])
        let tooMany = "{\"values\": [" + (0..<1001).map { _ in "\"52525\"" }.joined(separator: ",") + "]}"
        #expect(try errors("postal_codes", tooMany).map(\.field) == ["definition.values"])
    }

    @Test func ruleListsRefuseDuplicatePositionsAndRulesBehindTheDefault() throws {
        let list: [(position: Int, kind: String, definition: JSONValue)] = [
            (0, "postal_codes", try JSONValue.parse(#"{"values": ["52525"]}"#)),
            (5, "default", .object([:])),
            (7, "municipality_keys", try JSONValue.parse(#"{"values": ["05370016"]}"#)),
            (0, "form_field", try JSONValue.parse(#"{"field": "x", "values": []}"#)),
        ]
        do {
            _ = try RuleSet.validate(list)
            Issue.record("an invalid list was accepted")
        } catch {
            #expect(error.errors.map(\.field) == ["rules[3].position", "rules[3].definition.values"])
        }
        do {
            _ = try RuleSet.validate(Array(list.prefix(3)))
            Issue.record("a rule behind the default was accepted")
        } catch {
            #expect(error.errors.map(\.field) == ["rules[2].position"])
        }
        #expect(try RuleSet.validate(Array(list.prefix(2))).count == 2)
    }

    @Test func evaluationOfEachKind() throws {
        let keys = try rule("municipality_keys", #"{"values": ["05370016"]}"#)
        #expect(keys.matches(RoutingSubject(municipalityKey: "05370016")))
        #expect(!keys.matches(RoutingSubject(municipalityKey: "05370020")))
        #expect(!keys.matches(RoutingSubject(postalCode: "05370016")))

        let codes = try rule("postal_codes", #"{"values": ["41812", "5253", "52500-52599"]}"#)
        for code in ["41812", "52530", "52539", "52500", "52599", "52550", " 52550 "] {
            #expect(codes.matches(RoutingSubject(postalCode: code)), "\(code)")
        }
        for code in ["41813", "52700", "52499", "52600", "5250", "", "4181"] {
            #expect(!codes.matches(RoutingSubject(postalCode: code)), "\(code)")
        }
        #expect(!codes.matches(RoutingSubject()))

        let field = try rule("form_field", #"{"field": "vehicle.kind", "values": ["truck", 3, true]}"#)
        #expect(field.matches(RoutingSubject(form: try JSONValue.parse(#"{"vehicle": {"kind": "truck"}}"#))))
        #expect(field.matches(RoutingSubject(form: try JSONValue.parse(#"{"vehicle": {"kind": 3.0}}"#))))
        #expect(field.matches(RoutingSubject(form: try JSONValue.parse(#"{"vehicle": {"kind": true}}"#))))
        #expect(!field.matches(RoutingSubject(form: try JSONValue.parse(#"{"vehicle": {"kind": "car"}}"#))))
        #expect(!field.matches(RoutingSubject(form: try JSONValue.parse(#"{"vehicle": {"kind": "3"}}"#))))
        #expect(!field.matches(RoutingSubject(form: try JSONValue.parse(#"{"vehicle": {"kind": ["truck"]}}"#))))
        #expect(!field.matches(RoutingSubject(form: try JSONValue.parse(#"{"vehicle": "truck"}"#))))
        #expect(!field.matches(RoutingSubject()))

        #expect(try rule("default", "{}").matches(RoutingSubject()))
    }

    @Test func firstMatchByPositionWins() throws {
        let a = UUID(), b = UUID(), c = UUID()
        let set = RuleSet([
            PlacedRule(areaID: c, position: 9, rule: try rule("default", "{}")),
            PlacedRule(areaID: b, position: 2, rule: try rule("postal_codes", #"{"values": ["52525"]}"#)),
            PlacedRule(areaID: a, position: 1, rule: try rule("municipality_keys", #"{"values": ["05370016"]}"#)),
        ])
        #expect(set.firstMatch(for: RoutingSubject(municipalityKey: "05370016", postalCode: "52525"))?.areaID == a)
        #expect(set.firstMatch(for: RoutingSubject(municipalityKey: "05370020", postalCode: "52525"))?.areaID == b)
        #expect(set.firstMatch(for: RoutingSubject(postalCode: "10115"))?.areaID == c)
        #expect(RuleSet(Array(set.rules.prefix(2))).firstMatch(for: RoutingSubject(postalCode: "10115")) == nil)
    }

    @Test func canonicalDefinitionRoundTrips() throws {
        let original = try rule("postal_codes", #"{"values": ["00100-00199", "5253"]}"#)
        #expect(original.definition.jsonText == #"{"values":["00100-00199","5253"]}"#)
        #expect(try RoutingRule(kind: "postal_codes", definition: original.definition) == original)
    }
}
