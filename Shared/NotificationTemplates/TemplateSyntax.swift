/// The `{{placeholder}}` syntax of notification texts: the one parser behind rendering (the
/// senders) and checking at save time (the admin store), so a text the admin store accepts is a
/// text the senders can render.
public enum TemplateSyntax {
    /// A piece of a parsed text.
    public enum Piece: Sendable, Equatable {
        case literal(String)
        /// `{{name}}`; `tight` is false when spaces stand inside the braces (`{{ name }}`).
        case slot(name: String, tight: Bool)
    }

    /// Splits `text` into literals and slots. Throws when the text is empty or blank, or a brace
    /// pair is unbalanced or nested.
    public static func parse(_ text: String) throws(TemplateSyntaxError) -> [Piece] {
        guard text.contains(where: { !$0.isWhitespace }) else { throw TemplateSyntaxError("template text is empty") }
        var pieces: [Piece] = []
        var rest = Substring(text)
        while true {
            guard let open = rest.firstRange(of: "{{") else {
                if rest.contains("}}") { throw TemplateSyntaxError("\"}}\" without \"{{\"") }
                if !rest.isEmpty { pieces.append(.literal(String(rest))) }
                return pieces
            }
            let before = rest[..<open.lowerBound]
            if before.contains("}}") { throw TemplateSyntaxError("\"}}\" without \"{{\"") }
            if !before.isEmpty { pieces.append(.literal(String(before))) }
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.firstRange(of: "}}") else { throw TemplateSyntaxError("\"{{\" without \"}}\"") }
            let inner = afterOpen[..<close.lowerBound]
            let name = trimmingSpaces(inner)
            if name.contains("{") || name.contains("}") { throw TemplateSyntaxError("nested or unbalanced braces") }
            pieces.append(.slot(name: name, tight: name == inner))
            rest = afterOpen[close.upperBound...]
        }
    }

    /// Fills `{{name}}` slots (spaces inside the braces allowed) with `values`. Throws as
    /// ``parse(_:)`` does, and when a placeholder is not in `values`.
    public static func render(_ text: String, values: [String: String]) throws(TemplateSyntaxError) -> String {
        var output = ""
        for piece in try parse(text) {
            switch piece {
            case .literal(let literal):
                output += literal
            case .slot(let name, _):
                guard let value = values[name] else { throw TemplateSyntaxError("unknown placeholder {{\(name.prefix(40))}}") }
                output += value
            }
        }
        return output
    }

    private static func trimmingSpaces(_ text: Substring) -> String {
        var scalars = text
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}

/// Why a text cannot be parsed or rendered.
public struct TemplateSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
