import CLibPQ
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// The rows a statement returned. Holds the libpq result and frees it when released.
/// Immutable once created, so it may be read from any thread.
public final class PostgresRows: @unchecked Sendable, RandomAccessCollection {
    private let result: OpaquePointer
    /// Column names in order.
    public let columns: [String]
    private let columnIndex: [String: Int]
    /// Rows affected by INSERT/UPDATE/DELETE (0 for others).
    public let affectedRows: Int

    init(result: OpaquePointer) {
        self.result = result
        let count = Int(PQnfields(result))
        var names: [String] = []
        names.reserveCapacity(count)
        for index in 0..<count { names.append(String(cString: PQfname(result, Int32(index)))) }
        columns = names
        var lookup: [String: Int] = [:]
        for (index, name) in names.enumerated() where lookup[name] == nil { lookup[name] = index }
        columnIndex = lookup
        let tuples = String(cString: PQcmdTuples(result))
        affectedRows = Int(tuples) ?? 0
    }

    deinit { PQclear(result) }

    public var startIndex: Int { 0 }
    public var endIndex: Int { Int(PQntuples(result)) }
    public subscript(position: Int) -> PostgresRow { PostgresRow(rows: self, index: position) }

    func column(named name: String) throws -> Int {
        guard let index = columnIndex[name] else {
            throw PostgresError(code: .unknownColumn, message: "result has no column \(name)")
        }
        return index
    }

    func isNull(row: Int, column: Int) -> Bool { PQgetisnull(result, Int32(row), Int32(column)) == 1 }

    func withBytes<T>(row: Int, column: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
        let length = Int(PQgetlength(result, Int32(row), Int32(column)))
        let pointer = PQgetvalue(result, Int32(row), Int32(column))!
        return try pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            try body(UnsafeBufferPointer(start: $0, count: length))
        }
    }
}

/// One row of a result; decode columns by name or position.
public struct PostgresRow: Sendable {
    let rows: PostgresRows
    let index: Int

    /// The column's value; throws `.unexpectedNull` for NULL and `.decoding` for text that is not a `T`.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try decode(at: rows.column(named: column), as: type, name: column)
    }

    /// The column's value, `nil` for NULL.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T?.Type) throws -> T? {
        let position = try rows.column(named: column)
        if rows.isNull(row: index, column: position) { return nil }
        return try decode(at: position, as: T.self, name: column)
    }

    public func decode<T: PostgresDecodable>(at column: Int, as type: T.Type = T.self) throws -> T {
        try decode(at: column, as: type, name: "#\(column)")
    }

    public func decode<T: PostgresDecodable>(at column: Int, as type: T?.Type) throws -> T? {
        if rows.isNull(row: index, column: column) { return nil }
        return try decode(at: column, as: T.self, name: "#\(column)")
    }

    /// Decodes a `json`/`jsonb` column through `Codable`.
    public func decodeJSON<T: Decodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        let position = try rows.column(named: column)
        guard !rows.isNull(row: index, column: position) else {
            throw PostgresError(code: .unexpectedNull, message: "column \(column) is NULL")
        }
        let data = rows.withBytes(row: index, column: position) { Data($0) }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(T.self, from: data)
        } catch {
            throw PostgresError(code: .decoding, message: "column \(column) is not JSON of \(T.self): \(error)")
        }
    }

    /// The raw bytes of a column (text format), `nil` for NULL.
    public func rawBytes(_ column: String) throws -> Data? {
        let position = try rows.column(named: column)
        if rows.isNull(row: index, column: position) { return nil }
        return rows.withBytes(row: index, column: position) { Data($0) }
    }

    private func decode<T: PostgresDecodable>(at column: Int, as type: T.Type, name: String) throws -> T {
        guard column >= 0 && column < rows.columns.count else {
            throw PostgresError(code: .unknownColumn, message: "result has no column \(name)")
        }
        if rows.isNull(row: index, column: column) {
            throw PostgresError(code: .unexpectedNull, message: "column \(name) is NULL")
        }
        guard let value = rows.withBytes(row: index, column: column, { T.decode(postgresText: $0) }) else {
            throw PostgresError(code: .decoding, message: "column \(name) is not a valid \(T.self)")
        }
        return value
    }
}
