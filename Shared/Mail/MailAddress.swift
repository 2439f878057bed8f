/// A mailbox: an address and an optional display name (`Stadt Erkrath <noreply@erkrath.de>`).
///
/// The address is checked to be a plain `local@domain` of printable ASCII without spaces,
/// angle brackets, quotes or control characters, so it can go into a header and an SMTP
/// envelope as it is. The display name may be any text without control characters; it is
/// encoded per RFC 2047 when it is not plain ASCII.
public struct MailAddress: Sendable, Hashable, CustomStringConvertible {
    public let address: String
    public let displayName: String?

    public init(_ address: String, displayName: String? = nil) throws(MailError) {
        guard Self.isValidAddress(address) else {
            throw MailError(code: .invalidAddress, message: "not a plain e-mail address (local@domain, printable ASCII)")
        }
        if let displayName, displayName.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw MailError(code: .invalidHeader, message: "display name contains control characters")
        }
        self.address = address
        self.displayName = displayName.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Parses `addr@host` or `Name <addr@host>`.
    public init(parsing text: String) throws(MailError) {
        let trimmed = text.trimmingSpaces
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            var name = String(trimmed[..<open]).trimmingSpaces
            if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 { name = String(name.dropFirst().dropLast()) }
            let address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            try self.init(address, displayName: name.isEmpty ? nil : name)
        } else {
            try self.init(trimmed)
        }
    }

    /// The part after `@`.
    public var domain: String { String(address[address.index(after: address.lastIndex(of: "@")!)...]) }

    public var description: String { displayName.map { "\($0) <\(address)>" } ?? address }

    static func isValidAddress(_ address: String) -> Bool {
        let bytes = Array(address.utf8)
        guard (3...254).contains(bytes.count), let at = bytes.lastIndex(of: UInt8(ascii: "@")),
              at > 0, at < bytes.count - 1, at <= 64 else { return false }
        let forbidden: Set<UInt8> = Set("<>()[]\\,;:\"@ ".utf8)
        for (index, byte) in bytes.enumerated() {
            guard byte > 0x20, byte < 0x7f else { return false }
            if index != at && forbidden.contains(byte) { return false }
        }
        let domain = bytes[(at + 1)...]
        return !domain.contains(UInt8(ascii: "@")) && domain.first != UInt8(ascii: ".") && domain.last != UInt8(ascii: ".")
    }
}

extension String {
    var trimmingSpaces: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
