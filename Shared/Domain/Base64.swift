/// Strict base64 (RFC 4648 §4) decoding straight into bytes, and base64url encoding for tokens.
/// Strict: only the standard alphabet, padding only at the end, length a multiple of four,
/// unused bits zero. Whitespace is refused (JSON strings need none).
public enum Base64 {
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, char) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(char)] = UInt8(index)
        }
        return table
    }()

    /// The decoded bytes, or nil when `text` is not strict base64.
    public static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Decodes base64 text given as bytes.
    public static func decode(bytes input: UnsafeRawBufferPointer) -> [UInt8]? {
        let count = input.count
        guard count % 4 == 0 else { return nil }
        if count == 0 { return [] }
        var padding = 0
        if input[count - 1] == UInt8(ascii: "=") { padding += 1 }
        if input[count - 2] == UInt8(ascii: "=") { padding += 1 }
        var output = [UInt8](repeating: 0, count: count / 4 * 3 - padding)
        let ok = decodeTable.withUnsafeBufferPointer { table in
            output.withUnsafeMutableBufferPointer { out in
                var o = 0
                var i = 0
                while i < count {
                    let lastQuad = i + 4 == count
                    let c0 = table[Int(input[i])], c1 = table[Int(input[i + 1])]
                    var c2 = table[Int(input[i + 2])], c3 = table[Int(input[i + 3])]
                    if lastQuad && padding == 2 { c2 = 0; c3 = 0 } else if lastQuad && padding == 1 { c3 = 0 }
                    if (c0 | c1 | c2 | c3) & 0xC0 != 0 { return false }
                    let triple = UInt32(c0) << 18 | UInt32(c1) << 12 | UInt32(c2) << 6 | UInt32(c3)
                    out[o] = UInt8(truncatingIfNeeded: triple >> 16)
                    if lastQuad && padding == 2 {
                        if c1 & 0x0F != 0 { return false }
                        return true
                    }
                    out[o + 1] = UInt8(truncatingIfNeeded: triple >> 8)
                    if lastQuad && padding == 1 {
                        if c2 & 0x03 != 0 { return false }
                        return true
                    }
                    out[o + 2] = UInt8(truncatingIfNeeded: triple)
                    o += 3
                    i += 4
                }
                return true
            }
        }
        return ok ? output : nil
    }

    /// base64url without padding (RFC 4648 §5), for tokens.
    public static func urlEncode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], alphabet[Int(v & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)]]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
