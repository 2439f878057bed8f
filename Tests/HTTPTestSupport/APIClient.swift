import Foundation

/// A response of a service's HTTP API, with its body parsed as JSON when it is JSON.
public struct APIResponse: Sendable, CustomStringConvertible {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as a JSON object (empty when it is not one).
    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }

    /// `json[key]` as a string.
    public subscript(_ key: String) -> String? { json[key] as? String }

    /// The `items` of a list answer.
    public var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }

    /// The stable `code` of a problem answer.
    public var code: String? { json["code"] as? String }

    public var description: String { "\(status) \(text.prefix(600))" }
}

/// Calls a service's HTTP API over a real socket: one connection per call (`Connection: close`),
/// bodies as JSON. Blocking reads run off the cooperative pool.
public struct APIClient: Sendable {
    public let port: Int
    /// Sent as `Authorization: Bearer …` when set.
    public let token: String?

    public init(port: Int, token: String? = nil) {
        self.port = port
        self.token = token
    }

    /// One request. `json` is serialized as the body; `timeout` bounds the wait for the answer.
    public func call(
        _ method: String, _ path: String, json: Any? = nil, headers: [String: String] = [:],
        timeout: Double = 10
    ) async throws -> APIResponse {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        var body: [UInt8] = []
        if let json {
            body = Array(try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]))
            head += "Content-Type: application/json\r\n"
        }
        if !body.isEmpty || method == "POST" || method == "PUT" || method == "PATCH" { head += "Content-Length: \(body.count)\r\n" }
        let request = Array((head + "\r\n").utf8) + body
        let port = self.port
        return try await offPool {
            let client = try RawClient(port: port, receiveTimeout: timeout)
            try client.send(request)
            let response = try client.readResponse()
            return APIResponse(status: response.status, headers: response.headers, body: response.body)
        }
    }

    public func get(_ path: String, headers: [String: String] = [:], timeout: Double = 10) async throws -> APIResponse {
        try await call("GET", path, headers: headers, timeout: timeout)
    }

    public func post(_ path: String, _ json: Any = [String: Any](), headers: [String: String] = [:]) async throws -> APIResponse {
        try await call("POST", path, json: json, headers: headers)
    }
}
