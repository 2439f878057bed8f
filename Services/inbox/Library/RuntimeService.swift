import ServiceRuntime

/// The runtime's `Service` protocol (Domain has a `Service` struct of its own).
public typealias RuntimeService = Service
