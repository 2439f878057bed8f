import Logging
import Metrics

/// A route handler: returns a response or throws (``ProblemConvertible`` errors become their
/// problem; anything else becomes a logged 500).
public typealias RouteHandler = @Sendable (RequestContext) async throws -> HTTPResponse

/// How a route learns who calls it, from the request head alone (a key or token header): the
/// principal, or a thrown error whose problem is the answer. A route that declares one
/// authenticates before its body is read; its handler finds the principal with
/// ``RequestContext/principal(as:)``.
public typealias RouteAuthenticator = @Sendable (HTTPRequestHead) async throws -> any Sendable

/// Matches method and path to handlers and turns errors into problem responses.
///
/// Patterns are absolute paths whose segments are literals or `:name` parameters
/// (`/v1/applications/:id/claim`). A literal segment wins over a parameter. A path that matches
/// no pattern is a 404; one that matches with another method is a 405 with `Allow`. `HEAD` is
/// served by the `GET` route. Every response carries `X-Request-Id`; request counts and latencies
/// go to the metrics registry labelled by route pattern (never by raw path).
public struct Router: HTTPResponder {
    struct Route: Sendable {
        var method: HTTPMethod
        var pattern: RoutePattern
        var bodyLimit: Int?
        var authenticate: RouteAuthenticator?
        var handler: RouteHandler
    }

    private var routes: [Route] = []
    private let logger: Logger
    private let metrics: RouterMetrics?

    /// - Parameters:
    ///   - logger: handlers get it with `request_id` added; unhandled errors are logged to it.
    ///   - metrics: when given, `http_requests_total` and `http_request_duration_seconds` are kept there.
    public init(logger: Logger, metrics: MetricsRegistry? = nil) {
        self.logger = logger
        self.metrics = metrics.map(RouterMetrics.init(registry:))
    }

    /// Registers `handler` for `method` and `path`.
    /// - Parameters:
    ///   - bodyLimit: largest request body for this route in bytes; nil = server default.
    ///   - authenticate: who may call the route, decided from the head before any body byte is
    ///     read; nil = the route is open (or authenticates in its handler, bodiless routes only).
    public mutating func add(
        _ method: HTTPMethod, _ path: String, bodyLimit: Int? = nil, authenticate: RouteAuthenticator? = nil, _ handler: @escaping RouteHandler
    ) {
        let pattern = RoutePattern(path)
        precondition(!routes.contains { $0.method == method && $0.pattern == pattern }, "route \(method) \(path) registered twice")
        routes.append(Route(method: method, pattern: pattern, bodyLimit: bodyLimit, authenticate: authenticate, handler: handler))
    }

    public mutating func get(_ path: String, authenticate: RouteAuthenticator? = nil, _ handler: @escaping RouteHandler) {
        add(.get, path, authenticate: authenticate, handler)
    }
    public mutating func post(_ path: String, bodyLimit: Int? = nil, authenticate: RouteAuthenticator? = nil, _ handler: @escaping RouteHandler) {
        add(.post, path, bodyLimit: bodyLimit, authenticate: authenticate, handler)
    }
    public mutating func put(_ path: String, bodyLimit: Int? = nil, authenticate: RouteAuthenticator? = nil, _ handler: @escaping RouteHandler) {
        add(.put, path, bodyLimit: bodyLimit, authenticate: authenticate, handler)
    }
    public mutating func patch(_ path: String, bodyLimit: Int? = nil, authenticate: RouteAuthenticator? = nil, _ handler: @escaping RouteHandler) {
        add(.patch, path, bodyLimit: bodyLimit, authenticate: authenticate, handler)
    }
    public mutating func delete(_ path: String, authenticate: RouteAuthenticator? = nil, _ handler: @escaping RouteHandler) {
        add(.delete, path, authenticate: authenticate, handler)
    }

    // MARK: HTTPResponder

    public func bodyLimit(for head: HTTPRequestHead) -> Int? {
        guard case .found(let route, _) = match(head.method, head.path) else { return nil }
        return route.bodyLimit
    }

    /// Routes that declare an authenticator admit from the head: a refusal is answered (and
    /// counted like any answer) without the body being read.
    public func admitter(for head: HTTPRequestHead) -> Admitter? {
        guard case .found(let route, _) = match(head.method, head.path), let authenticate = route.authenticate else { return nil }
        return { [self] head, requestID in
            let started = ContinuousClock.now
            do {
                return .admitted(principal: try await authenticate(head))
            } catch {
                let logger = logger.with(Self.logFields(requestID, client: RequestID.clientID(from: head.headers)))
                let response = Self.problemResponse(for: error, requestID: requestID, route: route.pattern.text, method: head.method, logger: logger)
                metrics?.record(method: head.method, route: route.pattern.text, status: response.status, since: started)
                return .refused(response)
            }
        }
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        let started = ContinuousClock.now
        var routeLabel = "unmatched"
        var response: HTTPResponse
        var cancelled = false
        switch match(request.method, request.path) {
        case .found(let route, let parameters):
            routeLabel = route.pattern.text
            let handler: RouteHandler
            if let authenticate = route.authenticate, request.principal == nil {
                // No body to protect (or no admitter ran): authenticate first, then handle.
                handler = { context in
                    var admitted = context.request
                    admitted.principal = try await authenticate(context.request.head)
                    return try await route.handler(RequestContext(
                        request: admitted, parameters: context.parameters, logger: context.logger, route: context.route))
                }
            } else {
                handler = route.handler
            }
            let context = RequestContext(
                request: request, parameters: parameters,
                logger: logger.with(Self.logFields(request.requestID, client: request.clientRequestID)), route: route.pattern.text
            )
            switch await run(handler, context) {
            case .answered(let answer):
                response = answer
            case .cancelled(let answer):
                response = answer
                cancelled = true
            }
        case .methodNotAllowed(let allowed):
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: allowed.map(\.rawValue).joined(separator: ", "))
            response = Problem(status: .methodNotAllowed, code: "method-not-allowed",
                               detail: "This resource does not support \(request.method.rawValue.prefix(16)).")
                .response(requestID: request.requestID, headers: headers)
        case .notFound:
            response = Problem(status: .notFound, code: "not-found", detail: "No resource at this path.")
                .response(requestID: request.requestID)
        }
        response.headers.replaceOrAdd(name: RequestID.headerName, value: request.requestID)
        if cancelled {
            // Nobody waits for the answer: not a request answered, counted apart.
            metrics?.recordCancelled(method: request.method, route: routeLabel)
        } else {
            metrics?.record(method: request.method, route: routeLabel, status: response.status, since: started)
        }
        return response
    }

    private enum Outcome {
        case answered(HTTPResponse)
        /// The handler failed after its task was cancelled: the server cancels a handler when its
        /// client closes the connection (or when the connection is cut at the end of shutdown).
        case cancelled(HTTPResponse)
    }

    private func run(_ handler: RouteHandler, _ context: RequestContext) async -> Outcome {
        do {
            return .answered(try await handler(context))
        } catch let error where Task.isCancelled && !(error is any ProblemConvertible) {
            // The client's doing, not a fault of ours: whatever the handler threw on the way out
            // (CancellationError, an interrupted query) is no error and no 500.
            context.logger.info("request cancelled: the client closed the connection", [
                "route": context.route, "method": context.request.method.rawValue, "error_type": String(describing: type(of: error)),
            ])
            return .cancelled(Problem(
                status: .serviceUnavailable, code: "request-cancelled", detail: "The request was cancelled before it was answered."
            ).response(requestID: context.requestID))
        } catch {
            return .answered(Self.problemResponse(
                for: error, requestID: context.requestID, route: context.route, method: context.request.method, logger: context.logger))
        }
    }

    /// What every log line about a request carries: our id, and the client's beside it.
    static func logFields(_ requestID: String, client: String?) -> [String: String] {
        guard let client else { return ["request_id": requestID] }
        return ["request_id": requestID, "client_request_id": client]
    }

    /// A thrown error as its answer: a ``ProblemConvertible``'s problem, anything else a logged 500.
    static func problemResponse(for error: any Error, requestID: String, route: String, method: HTTPMethod, logger: Logger) -> HTTPResponse {
        if let error = error as? any ProblemConvertible {
            return error.problem.response(requestID: requestID, headers: error.responseHeaders)
        }
        logger.error("unhandled error in handler", [
            "route": route, "method": method.rawValue,
            "error": String(describing: error), "error_type": String(describing: type(of: error)),
        ])
        return Problem(
            status: .internalServerError, code: "internal-error",
            detail: "An unexpected error occurred. Quote the request id when reporting it."
        ).response(requestID: requestID)
    }

    // MARK: Matching

    enum Match {
        case found(Route, [String: String])
        case methodNotAllowed([HTTPMethod])
        case notFound
    }

    func match(_ method: HTTPMethod, _ path: Substring) -> Match {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var best: (route: Route, parameters: [String: String], score: [Bool])?
        var allowed: [HTTPMethod] = []
        for route in routes {
            guard let (parameters, score) = route.pattern.match(segments) else { continue }
            let servesMethod = route.method == method || (method == .head && route.method == .get)
            if !servesMethod {
                allowed.append(route.method)
                if route.method == .get { allowed.append(.head) }
                continue
            }
            if let current = best {
                let moreSpecific = RoutePattern.isMoreSpecific(score, than: current.score)
                let exactMethodBeatsHeadFallback = score == current.score && route.method == method && current.route.method != method
                guard moreSpecific || exactMethodBeatsHeadFallback else { continue }
            }
            best = (route, parameters, score)
        }
        if let best { return .found(best.route, best.parameters) }
        if !allowed.isEmpty {
            var unique: [HTTPMethod] = []
            for method in allowed where !unique.contains(method) { unique.append(method) }
            return .methodNotAllowed(unique)
        }
        return .notFound
    }
}

/// A parsed route pattern such as `/v1/items/:id`.
struct RoutePattern: Sendable, Equatable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    let text: String
    let segments: [Segment]

    init(_ text: String) {
        precondition(text.hasPrefix("/"), "route pattern must start with '/': \(text)")
        self.text = text
        segments = text.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { part in
            part.hasPrefix(":") ? .parameter(String(part.dropFirst())) : .literal(String(part))
        }
    }

    /// Parameters and a specificity score (true per literal segment), or nil when it does not match.
    func match(_ pathSegments: ArraySlice<Substring>) -> ([String: String], [Bool])? {
        guard pathSegments.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        var score: [Bool] = []
        score.reserveCapacity(segments.count)
        for (segment, actual) in zip(segments, pathSegments) {
            switch segment {
            case .literal(let literal):
                guard actual == literal else { return nil }
                score.append(true)
            case .parameter(let name):
                guard !actual.isEmpty, let decoded = PercentDecoding.decode(actual) else { return nil }
                parameters[name] = decoded
                score.append(false)
            }
        }
        return (parameters, score)
    }

    /// Literal segments beat parameters, earliest segment first.
    static func isMoreSpecific(_ a: [Bool], than b: [Bool]) -> Bool {
        for (x, y) in zip(a, b) where x != y { return x }
        return false
    }
}
