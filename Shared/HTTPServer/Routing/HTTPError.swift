/// An error that knows the problem it stands for. Throw one from a handler and the client gets
/// that problem as `application/problem+json`; domain error types may conform too.
public protocol ProblemConvertible: Error {
    var problem: Problem { get }
    /// Extra response headers (e.g. `Retry-After`, `ETag`). Default: none.
    var responseHeaders: HTTPHeaders { get }
}

extension ProblemConvertible {
    public var responseHeaders: HTTPHeaders { HTTPHeaders() }
}

/// A typed HTTP error with a stable code, thrown from handlers.
///
/// ```swift
/// throw HTTPError(.conflict, code: "already-claimed", detail: "Claimed by another caseworker.",
///                 extensions: ["current_state": "in_progress"])
/// ```
public struct HTTPError: ProblemConvertible, Sendable, CustomStringConvertible {
    public var problem: Problem
    public var responseHeaders: HTTPHeaders

    public init(
        _ status: HTTPStatus, code: String, title: String? = nil, detail: String? = nil,
        errors: [Problem.FieldError] = [], extensions: [String: String] = [:], headers: HTTPHeaders = HTTPHeaders()
    ) {
        problem = Problem(status: status, code: code, title: title, detail: detail, errors: errors, extensions: extensions)
        responseHeaders = headers
    }

    public var description: String { "HTTPError(\(problem.status.code) \(problem.code))" }

    public static func badRequest(code: String = "bad-request", detail: String? = nil) -> HTTPError {
        HTTPError(.badRequest, code: code, detail: detail)
    }

    public static func notFound(code: String = "not-found", detail: String? = nil) -> HTTPError {
        HTTPError(.notFound, code: code, detail: detail)
    }

    public static func conflict(code: String, detail: String? = nil, extensions: [String: String] = [:]) -> HTTPError {
        HTTPError(.conflict, code: code, detail: detail, extensions: extensions)
    }

    /// 422 with one entry per offending field.
    public static func validationFailed(_ errors: [Problem.FieldError], detail: String = "The request has invalid fields.") -> HTTPError {
        HTTPError(.unprocessableContent, code: "validation-failed", detail: detail, errors: errors)
    }
}
