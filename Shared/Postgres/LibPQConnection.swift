import CLibPQ
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The synchronous libpq connection. Not thread-safe by itself; its invariant is that only one
/// thread uses it at a time: the owning `PostgresConnection` calls it from its `ConnectionThread`,
/// or, while the connection sits idle in the pool, the pool's health check.
final class LibPQConnection: @unchecked Sendable {
    /// Statements prepared on this session, by SQL text. Capped; past the cap statements run unnamed.
    static let preparedStatementCap = 512

    private var handle: OpaquePointer?
    private var prepared: [String: String] = [:]
    private let healthy = Atomic<Bool>(true)

    private init(handle: OpaquePointer) { self.handle = handle }

    deinit { if let handle { PQfinish(handle) } }

    /// Opens a connection (blocking). Call on a thread of our own.
    static func connect(_ configuration: PostgresConfiguration) throws -> LibPQConnection {
        let parameters = try configuration.connectionParameters()
        let keywords = parameters.map { strdup($0.0) }
        let values = parameters.map { strdup($0.1) }
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        var keywordPointers: [UnsafePointer<CChar>?] = keywords.map { UnsafePointer($0) } + [nil]
        var valuePointers: [UnsafePointer<CChar>?] = values.map { UnsafePointer($0) } + [nil]
        let connection = keywordPointers.withUnsafeMutableBufferPointer { keywordBuffer in
            valuePointers.withUnsafeMutableBufferPointer { valueBuffer in
                PQconnectdbParams(keywordBuffer.baseAddress, valueBuffer.baseAddress, 0)
            }
        }
        guard let connection else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmedWhitespace
            PQfinish(connection)
            throw PostgresError(code: .connectionFailed, message: message)
        }
        // Server notices (e.g. "table does not exist, skipping") are not errors; keep stderr clean.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        return LibPQConnection(handle: connection)
    }

    /// False once the connection broke or was left inside a transaction; such a connection is
    /// never handed out again.
    var isHealthy: Bool { healthy.load(ordering: .acquiring) }

    var socket: Int32 { handle.map { PQsocket($0) } ?? -1 }

    /// Runs one parameterised statement (blocking) and returns its rows.
    func execute(_ query: SQLQuery) throws -> PostgresRows {
        guard let handle else { throw PostgresError(code: .connectionLost, message: "connection is closed") }
        let result: OpaquePointer? = try withParameterBuffers(query.parameters) { values, lengths, formats, types in
            let count = Int32(query.parameters.count)
            if let name = prepared[query.sql] {
                return PQexecPrepared(handle, name, count, values, lengths, formats, 0)
            }
            if prepared.count < Self.preparedStatementCap {
                let name = "s\(prepared.count + 1)"
                let preparation = PQprepare(handle, name, query.sql, count, types)
                defer { PQclear(preparation) }
                try check(preparation, handle: handle)
                prepared[query.sql] = name
                return PQexecPrepared(handle, name, count, values, lengths, formats, 0)
            }
            return PQexecParams(handle, query.sql, count, types, values, lengths, formats, 0)
        }
        do {
            try check(result, handle: handle)
        } catch {
            PQclear(result)
            throw error
        }
        return PostgresRows(result: result!)
    }

    /// Runs a script of statements without parameters (simple query protocol, blocking).
    func executeScript(_ sql: String) throws {
        guard let handle else { throw PostgresError(code: .connectionLost, message: "connection is closed") }
        guard var result = PQexec(handle, sql) else {
            try check(nil, handle: handle)
            return
        }
        // PQexec returns only the last result; errors stop the script.
        defer { PQclear(result) }
        try check(result, handle: handle)
        while let next = PQgetResult(handle) {
            PQclear(result)
            result = next
            try check(result, handle: handle)
        }
    }

    /// Non-blocking check of an idle pooled connection. An idle session that does not LISTEN
    /// has nothing to read unless the server is ending it (the termination notice of a restart,
    /// then end-of-file), so anything readable, a hang-up or an error retires the connection.
    func checkIdleHealth() -> Bool {
        guard let handle, isHealthy else { return false }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, 0) != 0 {
            markUnhealthy()
            return false
        }
        if PQstatus(handle) != CONNECTION_OK || PQtransactionStatus(handle) != PQTRANS_IDLE {
            markUnhealthy()
            return false
        }
        return true
    }

    func markUnhealthy() { healthy.store(false, ordering: .releasing) }

    /// Updates the health flag from the session's state after a statement.
    func refreshHealth(requireIdle: Bool) {
        guard let handle else { markUnhealthy(); return }
        if PQstatus(handle) != CONNECTION_OK { markUnhealthy(); return }
        if requireIdle && PQtransactionStatus(handle) != PQTRANS_IDLE { markUnhealthy() }
    }

    /// Whether the server session is inside a transaction block.
    var inTransaction: Bool {
        guard let handle else { return false }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    func close() {
        if let handle { PQfinish(handle) }
        handle = nil
        markUnhealthy()
    }

    // MARK: Notifications (LISTEN)

    /// Reads available input without blocking; false when the connection broke.
    func consumeInput() -> Bool {
        guard let handle else { return false }
        return PQconsumeInput(handle) == 1
    }

    /// The next received notification, if any.
    func nextNotification() -> (channel: String, payload: String)? {
        guard let handle, let notify = PQnotifies(handle) else { return nil }
        defer { PQfreemem(notify) }
        return (String(cString: notify.pointee.relname), String(cString: notify.pointee.extra))
    }

    // MARK: Private

    private func check(_ result: OpaquePointer?, handle: OpaquePointer) throws {
        guard let result else {
            markUnhealthy()
            throw PostgresError(code: .connectionLost, message: String(cString: PQerrorMessage(handle)))
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return
        default:
            if PQstatus(handle) != CONNECTION_OK { markUnhealthy() }
            func field(_ code: UInt8) -> String? {
                guard let pointer = PQresultErrorField(result, Int32(code)) else { return nil }
                return String(cString: pointer)
            }
            let sqlState = field(UInt8(ascii: "C"))
            let message = field(UInt8(ascii: "M")) ?? String(cString: PQerrorMessage(handle)).trimmedWhitespace
            let lost = PQstatus(handle) != CONNECTION_OK
            throw PostgresError(
                code: lost && sqlState == nil ? .connectionLost : .server,
                sqlState: sqlState,
                message: message,
                detail: field(UInt8(ascii: "D")),
                constraint: field(UInt8(ascii: "n")),
                table: field(UInt8(ascii: "t")),
                column: field(UInt8(ascii: "c"))
            )
        }
    }

    /// Lays the parameters out in one buffer that lives exactly as long as the libpq call.
    private func withParameterBuffers<R>(
        _ parameters: [PostgresParameter],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?, UnsafePointer<Oid>?) throws -> R
    ) throws -> R {
        if parameters.isEmpty { return try body(nil, nil, nil, nil) }
        var total = 0
        for parameter in parameters {
            switch parameter {
            case .null: break
            case .text(let text): total += text.utf8.count + 1
            case .binary(let bytes, _): total += bytes.count
            }
        }
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1), alignment: 1)
        defer { storage.deallocate() }
        var values = [UnsafePointer<CChar>?](repeating: nil, count: parameters.count)
        var lengths = [Int32](repeating: 0, count: parameters.count)
        var formats = [Int32](repeating: 0, count: parameters.count)
        var types = [Oid](repeating: 0, count: parameters.count)
        var offset = 0
        for (index, parameter) in parameters.enumerated() {
            switch parameter {
            case .null:
                values[index] = nil
            case .text(let text):
                let start = storage + offset
                var written = 0
                for byte in text.utf8 {
                    if byte == 0 {
                        throw PostgresError(code: .invalidArgument, message: "parameter $\(index + 1) contains a NUL character, which PostgreSQL text cannot hold")
                    }
                    start.storeBytes(of: byte, toByteOffset: written, as: UInt8.self)
                    written += 1
                }
                start.storeBytes(of: 0, toByteOffset: written, as: UInt8.self)
                values[index] = UnsafePointer(start.assumingMemoryBound(to: CChar.self))
                lengths[index] = Int32(written)
                offset += written + 1
            case .binary(let bytes, let oid):
                let start = storage + offset
                bytes.withUnsafeBytes { source in
                    if let base = source.baseAddress { start.copyMemory(from: base, byteCount: bytes.count) }
                }
                values[index] = UnsafePointer(start.assumingMemoryBound(to: CChar.self))
                lengths[index] = Int32(bytes.count)
                formats[index] = 1
                types[index] = oid
                offset += bytes.count
            }
        }
        return try values.withUnsafeBufferPointer { valueBuffer in
            try lengths.withUnsafeBufferPointer { lengthBuffer in
                try formats.withUnsafeBufferPointer { formatBuffer in
                    try types.withUnsafeBufferPointer { typeBuffer in
                        try body(valueBuffer.baseAddress, lengthBuffer.baseAddress, formatBuffer.baseAddress, typeBuffer.baseAddress)
                    }
                }
            }
        }
    }
}

extension String {
    /// Without leading and trailing spaces and newlines (libpq ends its messages with "\n").
    var trimmedWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
