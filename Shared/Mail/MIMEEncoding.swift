import FoundationEssentials

/// Encodings for headers and bodies (RFC 2045, RFC 2047). Output lines end in CRLF.
public enum MIMEEncoding {
    /// The longest line this module writes, CRLF not counted (RFC 2045 allows 76 for QP).
    public static let maxLineLength = 76

    /// Quoted-printable (RFC 2045 §6.7) of UTF-8 text. Line breaks in the text (LF or CRLF)
    /// become hard CRLF breaks; longer lines get soft breaks (`=` at the end) so no line is
    /// over 76 characters. Trailing space or tab is encoded; a leading `.` is encoded so no
    /// line can end the SMTP data early, whatever the transport does.
    public static func quotedPrintable(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count + text.utf8.count / 8 + 16)
        let normalized = text.replacing("\r\n", with: "\n").replacing("\r", with: "\n")
        let lines = normalized.split(separator: "\n", omittingEmptySubsequences: false)
        for (lineIndex, line) in lines.enumerated() {
            if lineIndex > 0 { output += "\r\n" }
            let bytes = Array(line.utf8)
            var column = 0
            for (index, byte) in bytes.enumerated() {
                let isLast = index == bytes.count - 1
                let token: String
                switch byte {
                case UInt8(ascii: " "), UInt8(ascii: "\t"):
                    token = isLast ? hexEscape(byte) : String(UnicodeScalar(byte))
                case UInt8(ascii: "="):
                    token = hexEscape(byte)
                case UInt8(ascii: "."):
                    token = column == 0 ? hexEscape(byte) : "."
                case 33...126:
                    token = String(UnicodeScalar(byte))
                default:
                    token = hexEscape(byte)
                }
                // Room for the token plus a soft break `=` unless this is the line's last token.
                let limit = isLast ? maxLineLength : maxLineLength - 1
                if column + token.utf8.count > limit {
                    output += "=\r\n"
                    column = 0
                    // A `.` that now starts a line must be escaped, too.
                    if byte == UInt8(ascii: ".") {
                        output += hexEscape(byte)
                        column += 3
                        continue
                    }
                }
                output += token
                column += token.utf8.count
            }
        }
        return output
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    static func hexEscape(_ byte: UInt8) -> String {
        String(decoding: [UInt8(ascii: "="), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0f)]], as: UTF8.self)
    }

    /// True when `text` can stand in a header as it is: printable ASCII and spaces only.
    static func isPlainHeaderText(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f } && !text.contains("=?")
    }

    /// RFC 2047 `B` encoded-words of UTF-8 text, split between characters (never inside a
    /// UTF-8 sequence), each word at most `maxWordLength` characters. Join with CRLF + space to
    /// fold.
    public static func encodedWords(_ text: String, maxWordLength: Int = 64) -> [String] {
        let overhead = "=?utf-8?B??=".utf8.count
        let maxBytes = max(3, (maxWordLength - overhead) / 4 * 3)
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            if !chunk.isEmpty && chunk.count + bytes.count > maxBytes {
                words.append("=?utf-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk.removeAll(keepingCapacity: true)
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { words.append("=?utf-8?B?\(Data(chunk).base64EncodedString())?=") }
        return words
    }

    /// A complete header field `Name: value`, folded so no line exceeds 76 characters; non-ASCII
    /// (or over-long unbreakable) values become encoded-words. Rejects CR, LF and other control
    /// characters, so no value can add a header.
    public static func headerField(_ name: String, _ value: String) throws(MailError) -> String {
        try checkHeaderValue(value, field: name)
        let prefix = "\(name): "
        if isPlainHeaderText(value) {
            if prefix.utf8.count + value.utf8.count <= maxLineLength { return prefix + value }
            if let folded = foldPlain(prefix: prefix, value) { return folded }
        }
        let firstRoom = maxLineLength - prefix.utf8.count
        let words = encodedWords(value, maxWordLength: min(64, firstRoom))
        return prefix + words.joined(separator: "\r\n ")
    }

    /// Folds plain text at spaces; nil when some word does not fit a line.
    static func foldPlain(prefix: String, _ value: String) -> String? {
        var lines: [String] = []
        var current = prefix
        var first = true
        for word in value.split(separator: " ", omittingEmptySubsequences: false) {
            let candidate = first ? current + word : current + " " + word
            if candidate.utf8.count <= maxLineLength || first && word.isEmpty {
                current = candidate
            } else {
                guard current.utf8.count > 0, word.utf8.count + 1 <= maxLineLength else { return nil }
                lines.append(current)
                current = " " + word
            }
            first = false
        }
        lines.append(current)
        return lines.allSatisfy({ $0.utf8.count <= maxLineLength }) ? lines.joined(separator: "\r\n") : nil
    }

    /// Throws when `value` contains CR, LF, NUL or another control character except tab.
    public static func checkHeaderValue(_ value: String, field: String) throws(MailError) {
        for scalar in value.unicodeScalars where scalar.value < 0x20 && scalar != "\t" || scalar.value == 0x7f {
            throw MailError(code: .invalidHeader, message: "\(field) contains a control character (CR/LF not allowed in headers)")
        }
    }

    /// A header field of mailboxes (`Name <addr>, …`), names encoded when they are not plain
    /// ASCII, folded so no line exceeds 76 characters.
    static func addressField(_ name: String, _ addresses: [MailAddress]) -> String {
        var tokens: [String] = []
        for (index, address) in addresses.enumerated() {
            var parts: [String] = []
            if let display = address.displayName {
                if isPlainHeaderText(display), !display.contains(where: { "\"\\()<>[]:;@,.".contains($0) }) {
                    parts += display.split(separator: " ").map(String.init)
                } else if isPlainHeaderText(display) {
                    parts.append("\"" + display.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\"")
                } else {
                    parts += encodedWords(display, maxWordLength: 60)
                }
            }
            parts.append("<\(address.address)>" + (index < addresses.count - 1 ? "," : ""))
            tokens += parts
        }
        var lines: [String] = []
        var current = "\(name):"
        for token in tokens {
            if current.utf8.count + 1 + token.utf8.count > maxLineLength && current.utf8.count > 1 {
                lines.append(current)
                current = ""
            }
            current += " " + token
        }
        lines.append(current)
        return lines.joined(separator: "\r\n")
    }
}
