// The service runtime lives here (issue 3).
