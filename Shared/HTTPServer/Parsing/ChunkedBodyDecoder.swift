/// Decodes a `Transfer-Encoding: chunked` body (RFC 9112 §7.1) incrementally, appending the
/// data to a body buffer and enforcing the body limit as it goes. Chunk extensions are skipped,
/// trailer fields are read and discarded.
struct ChunkedBodyDecoder {
    enum Outcome: Equatable {
        case needMoreData
        case complete
        case failure(HTTPProtocolError)
    }

    private enum State {
        case sizeLine
        case data(remaining: Int)
        case dataEnd
        case trailers
        case done
    }

    /// Longest chunk-size line including extensions.
    static let maxSizeLineBytes = 4096
    /// Hex digits beyond this would overflow `Int`.
    static let maxSizeDigits = 15

    let bodyLimit: Int
    let maxTrailerBytes: Int
    private var state = State.sizeLine
    private var trailerBytes = 0

    init(bodyLimit: Int, maxTrailerBytes: Int) {
        self.bodyLimit = bodyLimit
        self.maxTrailerBytes = maxTrailerBytes
    }

    /// Consumes from `input` what it can; returns how many bytes it consumed and the outcome.
    mutating func decode(_ input: UnsafeBufferPointer<UInt8>, into body: inout [UInt8]) -> (consumed: Int, outcome: Outcome) {
        var index = 0
        while true {
            switch state {
            case .done:
                return (index, .complete)
            case .sizeLine:
                guard let lineEnd = Self.lineEnd(input, from: index, limit: Self.maxSizeLineBytes) else {
                    if input.count - index > Self.maxSizeLineBytes { return (index, .failure(.invalidChunkSize)) }
                    return (index, .needMoreData)
                }
                guard lineEnd.valid, let size = Self.chunkSize(input[index..<lineEnd.contentEnd]) else {
                    return (index, .failure(.invalidChunkSize))
                }
                index = lineEnd.next
                if size == 0 {
                    state = .trailers
                } else {
                    guard body.count + size <= bodyLimit else { return (index, .failure(.bodyTooLarge)) }
                    state = .data(remaining: size)
                }
            case .data(let remaining):
                let available = min(remaining, input.count - index)
                guard available > 0 else { return (index, .needMoreData) }
                body.append(contentsOf: UnsafeBufferPointer(rebasing: input[index..<(index + available)]))
                index += available
                state = remaining == available ? .dataEnd : .data(remaining: remaining - available)
            case .dataEnd:
                guard input.count - index >= 2 else { return (index, .needMoreData) }
                guard input[index] == HTTPSyntax.cr, input[index + 1] == HTTPSyntax.lf else {
                    return (index, .failure(.invalidChunkFraming))
                }
                index += 2
                state = .sizeLine
            case .trailers:
                let remainingBudget = maxTrailerBytes - trailerBytes
                guard let lineEnd = Self.lineEnd(input, from: index, limit: remainingBudget) else {
                    if input.count - index > remainingBudget { return (index, .failure(.trailersTooLarge)) }
                    return (index, .needMoreData)
                }
                guard lineEnd.valid else { return (index, .failure(.bareLineFeed)) }
                let isEmpty = lineEnd.contentEnd == index
                if !isEmpty {
                    let line = input[index..<lineEnd.contentEnd]
                    guard let first = line.first, first != HTTPSyntax.space, first != HTTPSyntax.tab,
                          let colon = line.firstIndex(of: HTTPSyntax.colon),
                          HTTPSyntax.isToken(line[..<colon]),
                          line[(colon + 1)...].allSatisfy(HTTPSyntax.isFieldValueByte)
                    else { return (index, .failure(.invalidHeaderValue)) }
                }
                trailerBytes += lineEnd.next - index
                index = lineEnd.next
                if isEmpty { state = .done }
            }
        }
    }

    private struct LineEnd {
        var contentEnd: Int
        var next: Int
        var valid: Bool
    }

    /// The end of the line starting at `start`, if its LF lies within `limit` bytes.
    private static func lineEnd(_ input: UnsafeBufferPointer<UInt8>, from start: Int, limit: Int) -> LineEnd? {
        let end = min(input.count, start + max(0, limit))
        var index = start
        while index < end {
            if input[index] == HTTPSyntax.lf {
                let valid = index > start && input[index - 1] == HTTPSyntax.cr
                return LineEnd(contentEnd: valid ? index - 1 : index, next: index + 1, valid: valid)
            }
            index += 1
        }
        return nil
    }

    /// `chunk-size [ BWS ";" chunk-ext ]`; nil when malformed.
    private static func chunkSize(_ line: UnsafeBufferPointer<UInt8>.SubSequence) -> Int? {
        var size = 0, digits = 0, index = line.startIndex
        while index < line.endIndex, let value = PercentDecoding.hexValue(line[index]) {
            digits += 1
            guard digits <= maxSizeDigits else { return nil }
            size = size << 4 | Int(value)
            index += 1
        }
        guard digits > 0 else { return nil }
        while index < line.endIndex, line[index] == HTTPSyntax.space || line[index] == HTTPSyntax.tab { index += 1 }
        guard index == line.endIndex || line[index] == UInt8(ascii: ";") else { return nil }
        guard line[index...].allSatisfy(HTTPSyntax.isFieldValueByte) else { return nil }
        return size
    }
}
