/// A parameterised statement. Written as a string literal whose interpolations become bound
/// parameters (`$1`, `$2`, …), so values can never be spliced into SQL:
///
///     let query: SQLQuery = "SELECT id FROM applications WHERE tenant_id = \(tenant) AND id = \(id)"
///
/// There is deliberately no initialiser from a run-time `String`.
public struct SQLQuery: Sendable, ExpressibleByStringInterpolation {
    public private(set) var sql: String
    public private(set) var parameters: [PostgresParameter]

    public init(stringLiteral value: StaticString) {
        sql = value.description
        parameters = []
    }

    public init(stringInterpolation: StringInterpolation) {
        sql = stringInterpolation.sql
        parameters = stringInterpolation.parameters
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var parameters: [PostgresParameter] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            parameters.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: StaticString) {
            sql += literal.description
        }

        /// Binds `value` as the next parameter.
        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            parameters.append(value.postgresParameter)
            sql += "$\(parameters.count)"
        }

        /// Binds an optional value; `nil` is NULL.
        public mutating func appendInterpolation<T: PostgresEncodable>(_ value: T?) {
            parameters.append(value?.postgresParameter ?? .null)
            sql += "$\(parameters.count)"
        }
    }
}

/// A multi-statement SQL script without parameters (migrations). Only string literals, so it
/// cannot carry run-time values either.
public struct SQLScript: Sendable, ExpressibleByStringLiteral {
    public let sql: String
    public init(stringLiteral value: StaticString) { sql = value.description }
}
