import Metrics

extension JobQueue {
    /// Adds per-queue depth, running and scheduled jobs, oldest ready age and dead letters to
    /// `registry`, read from the database at every scrape.
    /// - Parameter queues: only these queues (a service's own: those it produces or consumes);
    ///   nil = every defined queue.
    public func registerStatistics(in registry: MetricsRegistry, queues: Set<QueueName>? = nil) {
        let names = queues.map { Set($0.map(\.rawValue)) }
        registry.addCollector { [self] in
            guard let statistics = try? await self.statistics() else { return [] }
            return statistics.filter { names?.contains($0.queue) ?? true }.flatMap { queue -> [MetricSample] in
                let labels = ["queue": queue.queue]
                return [
                    MetricSample(name: "amtsweg_queue_ready_jobs", help: "Jobs ready to run", labels: labels, value: Double(queue.ready)),
                    MetricSample(name: "amtsweg_queue_running_jobs", help: "Jobs claimed under a live lease", labels: labels, value: Double(queue.running)),
                    MetricSample(name: "amtsweg_queue_scheduled_jobs", help: "Jobs waiting for a later attempt or a delay", labels: labels, value: Double(queue.scheduled)),
                    MetricSample(name: "amtsweg_queue_oldest_ready_age_seconds", help: "Age of the oldest ready job", labels: labels, value: queue.oldestReadySeconds),
                    MetricSample(name: "amtsweg_queue_dead_letters", help: "Jobs in the dead letters", labels: labels, value: Double(queue.deadLetters)),
                ]
            }
        }
    }
}
