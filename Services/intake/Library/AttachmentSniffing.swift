/// Whether an attachment's bytes are what its declared content type says, read as it is
/// decoded (chunk by chunk, like its size and checksum): magic numbers for the binary types;
/// ZIP-based (OpenDocument, Office Open XML) and OLE-based (Word 97, Excel 97) formats told
/// apart by their inner entries; text types valid UTF-8 without markup a browser would run.
///
/// A file whose bytes say otherwise is refused: what a caseworker opens must be what the form
/// said it is. (Downloads are also served with `nosniff` and a sandboxing CSP.)
struct AttachmentSniffer {
    enum Refusal: Equatable {
        /// The bytes are not of the declared type.
        case mismatch
        /// Text that carries markup a browser would run (script, HTML, SVG, XHTML).
        case activeContent
    }

    let contentType: String
    /// The first bytes, for magic numbers and the first ZIP entry.
    private var prefix: [UInt8] = []
    /// The end of the previous chunk, so patterns split across chunks are found.
    private var tail: [UInt8] = []
    private var foundPatterns: Set<Int> = []
    private var utf8 = UTF8Check()

    static let prefixBytes = 4096
    /// Longest pattern searched, less one: the overlap kept between chunks.
    static let overlap = 64

    init(contentType: String) {
        self.contentType = contentType
    }

    /// What is searched through the whole content for this type.
    private var patterns: [[UInt8]] {
        switch contentType {
        case "application/vnd.openxmlformats-officedocument.wordprocessingml.document": [Array("word/".utf8)]
        case "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": [Array("xl/".utf8)]
        case "application/msword": [Self.utf16("WordDocument")]
        case "application/vnd.ms-excel": [Self.utf16("Workbook"), Self.utf16("Book")]
        default: Self.isText(contentType) ? Self.markup : []
        }
    }

    mutating func feed(_ chunk: [UInt8]) {
        if prefix.count < Self.prefixBytes { prefix += chunk.prefix(Self.prefixBytes - prefix.count) }
        if Self.isText(contentType) { utf8.feed(chunk) }
        let patterns = patterns
        guard !patterns.isEmpty else { return }
        let window = tail + chunk
        for (index, pattern) in patterns.enumerated() where !foundPatterns.contains(index) {
            if Self.contains(window, pattern, caseInsensitive: Self.isText(contentType)) { foundPatterns.insert(index) }
        }
        tail = Array(window.suffix(Self.overlap))
    }

    /// The verdict once every byte was fed; nil when the content is of its declared type.
    func refusal() -> Refusal? {
        let p = prefix
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            p.count >= offset + magic.count && Array(p[offset..<(offset + magic.count)]) == magic
        }
        let zip: [UInt8] = [0x50, 0x4B, 0x03, 0x04]
        let ole: [UInt8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]
        switch contentType {
        case "application/pdf":
            return Self.contains(Array(p.prefix(1024)), Array("%PDF-".utf8), caseInsensitive: false) ? nil : .mismatch
        case "image/jpeg": return starts([0xFF, 0xD8, 0xFF]) ? nil : .mismatch
        case "image/png": return starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) ? nil : .mismatch
        case "image/gif": return starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) ? nil : .mismatch
        case "image/tiff": return starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) ? nil : .mismatch
        case "image/webp": return starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) ? nil : .mismatch
        case "image/heic":
            let brands = ["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"].map { Array($0.utf8) }
            return starts(Array("ftyp".utf8), at: 4) && brands.contains(where: { starts($0, at: 8) }) ? nil : .mismatch
        case "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet":
            // An OpenDocument's first entry is "mimetype", stored, holding the type itself.
            return starts(zip) && starts(Array(("mimetype" + contentType).utf8), at: 30) ? nil : .mismatch
        case "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
            return starts(zip) && foundPatterns.contains(0) ? nil : .mismatch
        case "application/msword", "application/vnd.ms-excel":
            return starts(ole) && !foundPatterns.isEmpty ? nil : .mismatch
        default:
            guard Self.isText(contentType) else { return .mismatch }
            guard utf8.isValidAtEnd else { return .mismatch }
            return foundPatterns.isEmpty ? nil : .activeContent
        }
    }

    static func isText(_ type: String) -> Bool {
        ["text/plain", "text/csv", "text/xml", "application/xml", "application/json"].contains(type)
    }

    /// Markup a browser would run, searched case-insensitively in text types.
    static let markup: [[UInt8]] = [
        "<script", "<html", "<iframe", "<object", "<embed", "<svg", "<?xml-stylesheet", "javascript:",
        "http://www.w3.org/1999/xhtml", "http://www.w3.org/2000/svg",
    ].map { Array($0.utf8) }

    static func utf16(_ text: String) -> [UInt8] { text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8], caseInsensitive: Bool) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        func fold(_ byte: UInt8) -> UInt8 { caseInsensitive && (0x41...0x5A).contains(byte) ? byte + 0x20 : byte }
        let first = needle[0]
        var index = 0
        let last = haystack.count - needle.count
        while index <= last {
            if fold(haystack[index]) == first {
                var matched = true
                for offset in 1..<needle.count where fold(haystack[index + offset]) != needle[offset] {
                    matched = false
                    break
                }
                if matched { return true }
            }
            index += 1
        }
        return false
    }
}

/// UTF-8 validity over a stream of chunks (a sequence may be split between two).
struct UTF8Check {
    private var pending: [UInt8] = []
    private(set) var isValid = true
    /// Valid, and no sequence left unfinished.
    var isValidAtEnd: Bool { isValid && pending.isEmpty }

    mutating func feed(_ chunk: [UInt8]) {
        guard isValid else { return }
        let bytes = pending + chunk
        // Keep an incomplete sequence at the end for the next chunk.
        var cut = bytes.count
        var back = 0
        while back < 3, cut > 0, bytes[cut - 1] & 0xC0 == 0x80 { cut -= 1; back += 1 }
        if cut > 0, bytes[cut - 1] >= 0xC0 {
            let lead = bytes[cut - 1]
            let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
            if back + 1 < length { cut -= 1 } else { cut = bytes.count }
        } else {
            cut = bytes.count
        }
        pending = Array(bytes[cut...])
        if String(validating: bytes[..<cut], as: UTF8.self) == nil { isValid = false }
    }
}
