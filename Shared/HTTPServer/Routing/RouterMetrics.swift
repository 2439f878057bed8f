import Metrics

/// Request counters and latency histogram kept by the router.
final class RouterMetrics: Sendable {
    private let requests: Counter
    private let duration: Histogram
    private static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    init(registry: MetricsRegistry) {
        requests = registry.counter("http_requests_total", help: "HTTP requests answered, by method, route pattern and status.")
        duration = registry.histogram("http_request_duration_seconds", help: "Time from a complete request to its response, by method and route pattern.")
    }

    func record(method: HTTPMethod, route: String, status: HTTPStatus, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let methodLabel = Self.knownMethods.contains(method.rawValue) ? method.rawValue : "OTHER"
        requests.increment(by: 1, ["method": methodLabel, "route": route, "status": String(status.code)])
        duration.observe(seconds, ["method": methodLabel, "route": route])
    }
}
