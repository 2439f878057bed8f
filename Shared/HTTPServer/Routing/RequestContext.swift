import Logging

/// What a route handler receives: the request, its path parameters and a logger that already
/// carries the request id.
public struct RequestContext: Sendable {
    public let request: HTTPRequest
    /// Path parameters by name, percent-decoded (`/applications/:id` → `parameters["id"]`).
    public let parameters: [String: String]
    /// The router's logger with `request_id` set.
    public let logger: Logger
    /// The route pattern that matched, e.g. `/applications/:id`.
    public let route: String

    public var requestID: String { request.requestID }

    /// Who the route's authenticator found (``Router/add(_:_:bodyLimit:authenticate:_:)``); a
    /// route without one, or of another type, is a programming error answered with 500.
    public func principal<P: Sendable>(as type: P.Type) throws -> P {
        guard let principal = request.principal as? P else {
            throw RouteConfigurationError(description: "route \(route) has no authenticator giving a \(P.self)")
        }
        return principal
    }

    /// The path parameter `name`; a missing one is a programming error in the route, so it throws 500-worthy.
    public func parameter(_ name: String) throws -> String {
        guard let value = parameters[name] else {
            throw RouteConfigurationError(description: "route \(route) has no parameter '\(name)'")
        }
        return value
    }

    /// The path parameter `name` as an integer, or a 400 naming it.
    public func intParameter(_ name: String) throws -> Int {
        guard let value = Int(try parameter(name)) else {
            throw HTTPError(.badRequest, code: "invalid-path-parameter", detail: "Path parameter '\(name)' must be an integer.")
        }
        return value
    }
}

/// A route asked for something it does not define; a bug, answered with 500.
struct RouteConfigurationError: Error, CustomStringConvertible {
    var description: String
}
