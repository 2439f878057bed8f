import Metrics

/// Request counters and latency histogram kept by the router.
final class RouterMetrics: Sendable {
    private let requests: Counter
    private let duration: Histogram
    private let cancelled: Counter
    private static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    init(registry: MetricsRegistry) {
        requests = registry.counter("http_requests_total", help: "HTTP requests answered, by method, route pattern and status.")
        duration = registry.histogram("http_request_duration_seconds", help: "Time from a complete request to its response, by method and route pattern.")
        cancelled = registry.counter(
            "http_requests_cancelled_total",
            help: "Requests whose handler was cancelled because the client closed the connection (not in http_requests_total), by method and route pattern.")
    }

    func recordCancelled(method: HTTPMethod, route: String) {
        cancelled.increment(by: 1, ["method": Self.methodLabel(method), "route": route])
    }

    private static func methodLabel(_ method: HTTPMethod) -> String {
        knownMethods.contains(method.rawValue) ? method.rawValue : "OTHER"
    }

    func record(method: HTTPMethod, route: String, status: HTTPStatus, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let methodLabel = Self.methodLabel(method)
        requests.increment(by: 1, ["method": methodLabel, "route": route, "status": String(status.code)])
        duration.observe(seconds, ["method": methodLabel, "route": route])
    }
}
