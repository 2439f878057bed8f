/// An error from the database or from talking to it.
///
/// `description` is deliberately generic: it names the kind of failure, the SQLSTATE and the
/// constraint, never the server's message or any parameter, because both can hold personal data.
/// `debugDescription` has the full detail for local debugging.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Stable kind of failure. Extensible without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Could not open a connection (server down, bad credentials, bad `DATABASE_URL`).
        public static let connectionFailed = Code("connection_failed")
        /// The connection broke while in use (server restart, network).
        public static let connectionLost = Code("connection_lost")
        /// The server answered a statement with an error; see `sqlState`.
        public static let server = Code("server_error")
        /// A column was NULL where the caller asked for a non-optional value.
        public static let unexpectedNull = Code("unexpected_null")
        /// A value could not be decoded into the requested Swift type.
        public static let decoding = Code("decoding_failed")
        /// A column name that the result does not have.
        public static let unknownColumn = Code("unknown_column")
        /// No connection became free within the pool's acquire timeout.
        public static let poolTimeout = Code("pool_timeout")
        /// The pool was closed.
        public static let poolClosed = Code("pool_closed")
        /// The configuration (e.g. `DATABASE_URL`) is invalid.
        public static let invalidConfiguration = Code("invalid_configuration")
        /// The caller used the API wrongly (e.g. an invalid channel name).
        public static let invalidArgument = Code("invalid_argument")
    }

    public var code: Code
    /// Five-character SQLSTATE from the server, e.g. `23505`.
    public var sqlState: String?
    /// The server's primary message. May contain data values: do not log it in production.
    public var message: String
    public var detail: String?
    public var constraint: String?
    public var table: String?
    public var column: String?

    public init(
        code: Code, sqlState: String? = nil, message: String, detail: String? = nil,
        constraint: String? = nil, table: String? = nil, column: String? = nil
    ) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.constraint = constraint
        self.table = table
        self.column = column
    }

    public var description: String {
        var text = "PostgresError(\(code)"
        if let sqlState { text += ", sqlstate: \(sqlState)" }
        if let constraint { text += ", constraint: \(constraint)" }
        return text + ")"
    }

    public var debugDescription: String {
        var text = "PostgresError(\(code)"
        if let sqlState { text += ", sqlstate: \(sqlState)" }
        text += ", message: \(message)"
        if let detail { text += ", detail: \(detail)" }
        if let constraint { text += ", constraint: \(constraint)" }
        if let table { text += ", table: \(table)" }
        if let column { text += ", column: \(column)" }
        return text + ")"
    }

    // MARK: SQLSTATE classes callers commonly branch on

    public var isUniqueViolation: Bool { sqlState == "23505" }
    public var isForeignKeyViolation: Bool { sqlState == "23503" }
    public var isCheckViolation: Bool { sqlState == "23514" }
    public var isSerializationFailure: Bool { sqlState == "40001" }
    public var isDeadlock: Bool { sqlState == "40P01" }
    public var isQueryCanceled: Bool { sqlState == "57014" }
    /// The connection is gone or unusable; the work may be retried on a new connection.
    public var isConnectionProblem: Bool {
        code == .connectionLost || code == .connectionFailed
            || (sqlState.map { $0.hasPrefix("08") || $0 == "57P01" || $0 == "57P02" || $0 == "57P03" } ?? false)
    }
}
