/// A parameterised statement. Written as a string literal whose interpolations become bound
/// parameters (`$1`, `$2`, …), so values can never be spliced into SQL:
///
///     let query: SQLQuery = "SELECT id FROM applications WHERE tenant_id = \(tenant) AND id = \(id)"
///
/// There is deliberately no initialiser from a run-time `String`.
///
/// Statements compose: `\(fragment: other)` inserts another `SQLQuery` (itself only literals and
/// bound parameters) and renumbers its parameters after the ones before it, so a module can hand
/// out a piece of SQL (e.g. the queue's job insert) for another module's single statement without
/// any string splicing. The query is kept as literal pieces between parameters, so renumbering
/// never has to parse SQL.
public struct SQLQuery: Sendable, ExpressibleByStringInterpolation {
    /// The literal SQL between parameters: `pieces.count == parameters.count + 1`.
    private var pieces: [String]
    public private(set) var parameters: [PostgresParameter]
    /// The statement with `$1`, `$2`, … in place of the parameters.
    public let sql: String

    public init(stringLiteral value: StaticString) {
        self.init(pieces: [value.description], parameters: [])
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(pieces: stringInterpolation.pieces, parameters: stringInterpolation.parameters)
    }

    private init(pieces: [String], parameters: [PostgresParameter]) {
        self.pieces = pieces
        self.parameters = parameters
        var sql = pieces[0]
        for index in parameters.indices {
            sql += "$\(index + 1)"
            sql += pieces[index + 1]
        }
        self.sql = sql
    }

    /// `queries` joined by `separator` (a literal), parameters renumbered. Empty for no queries.
    public static func joined(_ queries: [SQLQuery], separator: StaticString) -> SQLQuery {
        var interpolation = StringInterpolation(literalCapacity: 0, interpolationCount: 0)
        for (index, query) in queries.enumerated() {
            if index > 0 { interpolation.appendLiteral(separator) }
            interpolation.appendInterpolation(fragment: query)
        }
        return SQLQuery(stringInterpolation: interpolation)
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var pieces = [""]
        var parameters: [PostgresParameter] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            pieces[0].reserveCapacity(literalCapacity)
            parameters.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: StaticString) {
            pieces[pieces.count - 1] += literal.description
        }

        /// Binds `value` as the next parameter.
        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            bind(value.postgresParameter)
        }

        /// Binds an optional value; `nil` is NULL.
        public mutating func appendInterpolation<T: PostgresEncodable>(_ value: T?) {
            bind(value?.postgresParameter ?? .null)
        }

        /// Inserts another statement's SQL with its parameters, renumbered to follow ours.
        public mutating func appendInterpolation(fragment: SQLQuery) {
            pieces[pieces.count - 1] += fragment.pieces[0]
            for (index, parameter) in fragment.parameters.enumerated() {
                parameters.append(parameter)
                pieces.append(fragment.pieces[index + 1])
            }
        }

        private mutating func bind(_ parameter: PostgresParameter) {
            parameters.append(parameter)
            pieces.append("")
        }
    }
}

/// A multi-statement SQL script without parameters (migrations). Only string literals, so it
/// cannot carry run-time values either.
public struct SQLScript: Sendable, ExpressibleByStringLiteral {
    public let sql: String
    public init(stringLiteral value: StaticString) { sql = value.description }
}
