import FoundationEssentials

extension UUID {
    /// The id as every payload, API answer and log line writes it: lowercase.
    public var lowercased: String { uuidString.lowercased() }
}
