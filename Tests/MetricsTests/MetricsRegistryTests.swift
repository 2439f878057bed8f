import Testing
@testable import Metrics

@Suite struct MetricsRegistryTests {
    @Test func rendersCountersGaugesAndHistogramsInPrometheusText() async {
        let registry = MetricsRegistry()
        registry.counter("jobs_done_total", help: "Jobs done").increment(by: 3, ["queue": "route"])
        registry.gauge("queue_depth", help: "Ready jobs").set(7, ["queue": "a\"b"])
        let histogram = registry.histogram("latency_seconds", help: "Latency", buckets: [0.1, 1])
        histogram.observe(0.05)
        histogram.observe(0.5)
        histogram.observe(5)
        registry.addCollector { [MetricSample(name: "oldest_age_seconds", help: "Age", labels: ["queue": "route"], value: 1.5)] }

        let text = await registry.render()
        #expect(text.contains("# TYPE jobs_done_total counter\njobs_done_total{queue=\"route\"} 3\n"))
        #expect(text.contains("queue_depth{queue=\"a\\\"b\"} 7\n"))
        #expect(text.contains("latency_seconds_bucket{le=\"0.1\"} 1\n"))
        #expect(text.contains("latency_seconds_bucket{le=\"1\"} 2\n"))
        #expect(text.contains("latency_seconds_bucket{le=\"+Inf\"} 3\n"))
        #expect(text.contains("latency_seconds_count 3\n"))
        #expect(text.contains("latency_seconds_sum 5.55\n"))
        #expect(text.contains("# TYPE oldest_age_seconds gauge\noldest_age_seconds{queue=\"route\"} 1.5\n"))
    }

    @Test func sameNameReturnsSameCounter() {
        let registry = MetricsRegistry()
        registry.counter("c", help: "h").increment()
        registry.counter("c", help: "h").increment()
        #expect(registry.counter("c", help: "h").value() == 2)
    }
}
