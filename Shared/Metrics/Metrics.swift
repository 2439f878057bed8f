import Synchronization

/// Label pairs of one series, e.g. `["queue": "route"]`.
public typealias MetricLabels = [String: String]

/// A monotonically increasing count (Prometheus `counter`).
public final class Counter: Sendable {
    private let values = Mutex<[MetricLabels: Double]>([:])

    public func increment(by amount: Double = 1, _ labels: MetricLabels = [:]) {
        values.withLock { $0[labels, default: 0] += amount }
    }

    public func value(_ labels: MetricLabels = [:]) -> Double {
        values.withLock { $0[labels] ?? 0 }
    }

    fileprivate func snapshot() -> [MetricLabels: Double] { values.withLock { $0 } }
}

/// A value that goes up and down (Prometheus `gauge`).
public final class Gauge: Sendable {
    private let values = Mutex<[MetricLabels: Double]>([:])

    public func set(_ value: Double, _ labels: MetricLabels = [:]) {
        values.withLock { $0[labels] = value }
    }

    public func add(_ amount: Double, _ labels: MetricLabels = [:]) {
        values.withLock { $0[labels, default: 0] += amount }
    }

    public func value(_ labels: MetricLabels = [:]) -> Double {
        values.withLock { $0[labels] ?? 0 }
    }

    fileprivate func snapshot() -> [MetricLabels: Double] { values.withLock { $0 } }
}

/// Observations counted into fixed buckets (Prometheus `histogram`).
public final class Histogram: Sendable {
    /// Default latency buckets in seconds: 0.5 ms … 10 s.
    public static let latencyBuckets: [Double] = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]

    struct Series {
        var bucketCounts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0
    }

    public let buckets: [Double]
    private let series = Mutex<[MetricLabels: Series]>([:])

    public init(buckets: [Double] = Histogram.latencyBuckets) {
        self.buckets = buckets.sorted()
    }

    public func observe(_ value: Double, _ labels: MetricLabels = [:]) {
        let index = buckets.firstIndex { value <= $0 } ?? buckets.count
        series.withLock { all in
            var entry = all[labels] ?? Series(bucketCounts: Array(repeating: 0, count: buckets.count + 1))
            entry.bucketCounts[index] += 1
            entry.sum += value
            entry.count += 1
            all[labels] = entry
        }
    }

    /// Number of observations for `labels`.
    public func count(_ labels: MetricLabels = [:]) -> UInt64 {
        series.withLock { $0[labels]?.count ?? 0 }
    }

    fileprivate func snapshot() -> [MetricLabels: Series] { series.withLock { $0 } }
}

/// One sample produced at scrape time by a collector (e.g. queue depth read from the database).
public struct MetricSample: Sendable {
    public var name: String
    public var help: String
    public var type: MetricType
    public var labels: MetricLabels
    public var value: Double

    public init(name: String, help: String, type: MetricType = .gauge, labels: MetricLabels = [:], value: Double) {
        self.name = name
        self.help = help
        self.type = type
        self.labels = labels
        self.value = value
    }
}

public enum MetricType: String, Sendable {
    case counter, gauge, histogram
}

/// Holds a process's metrics and renders them in the Prometheus text exposition format 0.0.4.
public final class MetricsRegistry: Sendable {
    public typealias Collector = @Sendable () async -> [MetricSample]

    private enum Family {
        case counter(Counter)
        case gauge(Gauge)
        case histogram(Histogram)
    }

    private struct Entry {
        var help: String
        var family: Family
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let collectors = Mutex<[Collector]>([])

    public init() {}

    /// The counter called `name`, created on first use.
    public func counter(_ name: String, help: String) -> Counter {
        entries.withLock { all in
            if case .counter(let existing)? = all[name]?.family { return existing }
            let counter = Counter()
            all[name] = Entry(help: help, family: .counter(counter))
            return counter
        }
    }

    public func gauge(_ name: String, help: String) -> Gauge {
        entries.withLock { all in
            if case .gauge(let existing)? = all[name]?.family { return existing }
            let gauge = Gauge()
            all[name] = Entry(help: help, family: .gauge(gauge))
            return gauge
        }
    }

    public func histogram(_ name: String, help: String, buckets: [Double] = Histogram.latencyBuckets) -> Histogram {
        entries.withLock { all in
            if case .histogram(let existing)? = all[name]?.family { return existing }
            let histogram = Histogram(buckets: buckets)
            all[name] = Entry(help: help, family: .histogram(histogram))
            return histogram
        }
    }

    /// Adds a collector that is asked for samples at every scrape.
    public func addCollector(_ collector: @escaping Collector) {
        collectors.withLock { $0.append(collector) }
    }

    /// The whole registry as Prometheus text (`text/plain; version=0.0.4`).
    public func render() async -> String {
        var output = ""
        let snapshot = entries.withLock { $0 }
        for name in snapshot.keys.sorted() {
            let entry = snapshot[name]!
            switch entry.family {
            case .counter(let counter):
                Self.header(&output, name: name, help: entry.help, type: .counter)
                for (labels, value) in counter.snapshot().sorted(by: Self.labelOrder) {
                    Self.line(&output, name: name, labels: labels, value: value)
                }
            case .gauge(let gauge):
                Self.header(&output, name: name, help: entry.help, type: .gauge)
                for (labels, value) in gauge.snapshot().sorted(by: Self.labelOrder) {
                    Self.line(&output, name: name, labels: labels, value: value)
                }
            case .histogram(let histogram):
                Self.header(&output, name: name, help: entry.help, type: .histogram)
                for (labels, series) in histogram.snapshot().sorted(by: Self.labelOrder) {
                    var cumulative: UInt64 = 0
                    for (index, bound) in histogram.buckets.enumerated() {
                        cumulative += series.bucketCounts[index]
                        Self.line(&output, name: name + "_bucket", labels: labels.merging(["le": Self.format(bound)]) { a, _ in a }, value: Double(cumulative))
                    }
                    cumulative += series.bucketCounts[histogram.buckets.count]
                    Self.line(&output, name: name + "_bucket", labels: labels.merging(["le": "+Inf"]) { a, _ in a }, value: Double(cumulative))
                    Self.line(&output, name: name + "_sum", labels: labels, value: series.sum)
                    Self.line(&output, name: name + "_count", labels: labels, value: Double(series.count))
                }
            }
        }
        let collectorList = collectors.withLock { $0 }
        var collected: [String: [MetricSample]] = [:]
        for collector in collectorList {
            for sample in await collector() { collected[sample.name, default: []].append(sample) }
        }
        for name in collected.keys.sorted() where snapshot[name] == nil {
            let samples = collected[name]!
            Self.header(&output, name: name, help: samples[0].help, type: samples[0].type)
            for sample in samples { Self.line(&output, name: name, labels: sample.labels, value: sample.value) }
        }
        return output
    }

    private static func labelOrder<V>(_ a: (key: MetricLabels, value: V), _ b: (key: MetricLabels, value: V)) -> Bool {
        renderLabels(a.key) < renderLabels(b.key)
    }

    private static func header(_ output: inout String, name: String, help: String, type: MetricType) {
        output += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) \(type.rawValue)\n"
    }

    private static func line(_ output: inout String, name: String, labels: MetricLabels, value: Double) {
        output += name + renderLabels(labels) + " " + format(value) + "\n"
    }

    static func renderLabels(_ labels: MetricLabels) -> String {
        guard !labels.isEmpty else { return "" }
        let pairs = labels.keys.sorted().map { key in "\(key)=\"\(escapeLabelValue(labels[key]!))\"" }
        return "{" + pairs.joined(separator: ",") + "}"
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    private static func escapeHelp(_ text: String) -> String {
        text.replacing("\\", with: "\\\\").replacing("\n", with: "\\n")
    }

    private static func escapeLabelValue(_ text: String) -> String {
        text.replacing("\\", with: "\\\\")
            .replacing("\"", with: "\\\"")
            .replacing("\n", with: "\\n")
    }
}
