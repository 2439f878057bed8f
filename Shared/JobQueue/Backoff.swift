/// Delay before the next attempt after a failure: exponential with "equal jitter".
///
/// For attempt `n` (1 = the attempt that just failed) the ceiling is `min(maximum, base · 2^(n-1))`,
/// and the delay is drawn uniformly from `[ceiling / 2, ceiling]`.
public struct BackoffPolicy: Sendable, Equatable {
    public var base: Duration
    public var maximum: Duration

    public init(base: Duration = .seconds(1), maximum: Duration = .seconds(3600)) {
        self.base = base
        self.maximum = maximum
    }

    /// Bounds of the delay after attempt `attempt` failed.
    public func bounds(afterAttempt attempt: Int) -> ClosedRange<Duration> {
        let exponent = min(max(attempt - 1, 0), 40)
        var ceiling = base
        for _ in 0..<exponent {
            ceiling = ceiling * 2
            if ceiling >= maximum { ceiling = maximum; break }
        }
        ceiling = min(ceiling, maximum)
        return (ceiling / 2)...ceiling
    }

    public func delay(afterAttempt attempt: Int) -> Duration {
        let range = bounds(afterAttempt: attempt)
        let low = range.lowerBound.milliseconds
        let high = range.upperBound.milliseconds
        return .milliseconds(high > low ? Int64.random(in: low...high) : high)
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
    var secondsDouble: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
