import Metrics

/// Connection-level metrics of the server (request metrics are the router's).
final class ServerMetrics: Sendable {
    let openConnections: Gauge
    let acceptedConnections: Counter
    let rejectedConnections: Counter
    let protocolErrors: Counter
    let timeouts: Counter

    init(registry: MetricsRegistry) {
        openConnections = registry.gauge("http_server_open_connections", help: "Client connections currently open.")
        acceptedConnections = registry.counter("http_server_connections_accepted_total", help: "Client connections accepted.")
        rejectedConnections = registry.counter("http_server_connections_rejected_total", help: "Connections refused with 503 at the connection limit.")
        protocolErrors = registry.counter("http_server_protocol_errors_total", help: "Requests refused before routing (malformed, too large, timed out), by code.")
        timeouts = registry.counter("http_server_timeouts_total", help: "Connections cut off by a timeout, by phase.")
    }
}
