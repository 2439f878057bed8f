import Domain

/// SHA-256 from Domain, kept in a file of its own: Domain's `Service` and ServiceRuntime's
/// `Service` protocol must not meet in one file.
func sha256(_ bytes: [UInt8]) -> [UInt8] { SHA256.hash(bytes) }
