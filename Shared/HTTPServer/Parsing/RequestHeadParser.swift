/// How a request's body is delimited (RFC 9112 §6.3).
enum BodyFraming: Equatable {
    case none
    case contentLength(Int)
    case chunked
}

/// A request head that passed every check, with what the connection needs to read the body.
struct ParsedRequestHead {
    var head: HTTPRequestHead
    var framing: BodyFraming
    var expectsContinue: Bool
    var keepAlive: Bool
}

/// Finds and parses the request head (request line and header fields) at the start of a buffer.
///
/// The parser is incremental: the connection calls ``parse(_:)`` after every read and the parser
/// resumes scanning where it stopped, so a head sent one byte at a time costs linear work.
/// Limits are checked while scanning, so an oversized head is refused as soon as it passes the
/// limit rather than when it ends.
struct RequestHeadParser {
    enum Outcome {
        case needMoreData
        /// A complete head occupying `consumed` bytes (including leading empty lines).
        case complete(ParsedRequestHead, consumed: Int)
        case failure(HTTPProtocolError)
    }

    let limits: HTTPServerLimits
    /// Where scanning resumes.
    private var scanned = 0
    /// Start of the request line (after any leading empty lines).
    private var headStart = 0
    /// Start of the line being scanned.
    private var lineStart = 0
    /// End of the request line (index after its LF), once found.
    private var requestLineEnd: Int?
    private var fieldLines = 0

    init(limits: HTTPServerLimits) { self.limits = limits }

    /// Whether any byte of a request has been seen (leading empty lines do not count).
    var hasStarted: Bool { scanned > headStart }

    mutating func reset() { self = RequestHeadParser(limits: limits) }

    mutating func parse(_ buffer: UnsafeBufferPointer<UInt8>) -> Outcome {
        var index = scanned
        defer { scanned = index }
        while index < buffer.count {
            let byte = buffer[index]
            index += 1
            guard byte == HTTPSyntax.lf else {
                if requestLineEnd == nil, index - headStart > limits.maxRequestLineBytes {
                    return .failure(.requestLineTooLong)
                }
                if let lineEnd = requestLineEnd, index - lineEnd > limits.maxHeaderBytes {
                    return .failure(.headerBlockTooLarge)
                }
                continue
            }
            let lfIndex = index - 1
            guard lfIndex > lineStart, buffer[lfIndex - 1] == HTTPSyntax.cr else {
                return .failure(.bareLineFeed)
            }
            let lineIsEmpty = lfIndex - 1 == lineStart
            defer { lineStart = index }
            if requestLineEnd == nil {
                if lineIsEmpty {
                    headStart = index  // RFC 9112 §2.2: ignore empty lines before the request line
                    continue
                }
                requestLineEnd = index
                continue
            }
            if lineIsEmpty {
                let result = Self.interpret(buffer, headStart: headStart, requestLineEnd: requestLineEnd!, headEnd: index, limits: limits)
                switch result {
                case .success(let parsed): return .complete(parsed, consumed: index)
                case .failure(let error): return .failure(error)
                }
            }
            fieldLines += 1
            if fieldLines > limits.maxHeaderFields { return .failure(.tooManyHeaderFields) }
        }
        return .needMoreData
    }

    // MARK: Interpreting a complete head

    private static func interpret(
        _ buffer: UnsafeBufferPointer<UInt8>, headStart: Int, requestLineEnd: Int, headEnd: Int, limits: HTTPServerLimits
    ) -> Result<ParsedRequestHead, HTTPProtocolError> {
        let requestLine = buffer[headStart..<(requestLineEnd - 2)]
        let method: HTTPMethod, target: String, version: HTTPVersion
        switch parseRequestLine(requestLine) {
        case .success(let parts): (method, target, version) = parts
        case .failure(let error): return .failure(error)
        }

        var fields: [HTTPHeaders.Field] = []
        fields.reserveCapacity(12)
        var lineStart = requestLineEnd
        while lineStart < headEnd - 2 {
            var lineEnd = lineStart
            while buffer[lineEnd] != HTTPSyntax.lf { lineEnd += 1 }
            let line = buffer[lineStart..<(lineEnd - 1)]
            lineStart = lineEnd + 1
            switch parseFieldLine(line) {
            case .success(let field): fields.append(field)
            case .failure(let error): return .failure(error)
            }
        }
        let headers = HTTPHeaders(fields)
        return RequestFramingRules.apply(
            to: HTTPRequestHead(method: method, target: target, version: version, headers: headers)
        )
    }

    private static func parseRequestLine(
        _ line: UnsafeBufferPointer<UInt8>.SubSequence
    ) -> Result<(HTTPMethod, String, HTTPVersion), HTTPProtocolError> {
        guard let firstSpace = line.firstIndex(of: HTTPSyntax.space) else { return .failure(.malformedRequestLine) }
        let rest = line[(firstSpace + 1)...]
        guard let secondSpace = rest.firstIndex(of: HTTPSyntax.space) else { return .failure(.malformedRequestLine) }
        let methodBytes = line[..<firstSpace]
        let targetBytes = line[(firstSpace + 1)..<secondSpace]
        let versionBytes = line[(secondSpace + 1)...]
        guard !targetBytes.isEmpty, !versionBytes.contains(HTTPSyntax.space) else { return .failure(.malformedRequestLine) }
        guard HTTPSyntax.isToken(methodBytes) else { return .failure(.invalidMethod) }
        guard targetBytes.allSatisfy(HTTPSyntax.isTargetByte) else { return .failure(.invalidTarget) }
        let first = targetBytes[targetBytes.startIndex]
        let isAsterisk = targetBytes.count == 1 && first == UInt8(ascii: "*")
        guard first == UInt8(ascii: "/") || isAsterisk else { return .failure(.invalidTarget) }

        let version: HTTPVersion
        let v = Array(versionBytes)
        guard v.count == 8, v[0..<5].elementsEqual("HTTP/".utf8), v[6] == UInt8(ascii: "."),
              (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(v[5]),
              (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(v[7])
        else { return .failure(.malformedRequestLine) }
        switch (v[5], v[7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): version = .http1_1
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): version = .http1_0
        default: return .failure(.unsupportedVersion)
        }
        return .success((
            HTTPMethod(rawValue: String(decoding: methodBytes, as: UTF8.self)),
            String(decoding: targetBytes, as: UTF8.self),
            version
        ))
    }

    private static func parseFieldLine(
        _ line: UnsafeBufferPointer<UInt8>.SubSequence
    ) -> Result<HTTPHeaders.Field, HTTPProtocolError> {
        guard let first = line.first else { return .failure(.invalidHeaderName) }
        if first == HTTPSyntax.space || first == HTTPSyntax.tab { return .failure(.obsoleteLineFolding) }
        guard let colon = line.firstIndex(of: HTTPSyntax.colon) else { return .failure(.invalidHeaderName) }
        let name = line[..<colon]
        guard HTTPSyntax.isToken(name) else { return .failure(.invalidHeaderName) }
        var valueStart = colon + 1, valueEnd = line.endIndex
        while valueStart < valueEnd, line[valueStart] == HTTPSyntax.space || line[valueStart] == HTTPSyntax.tab { valueStart += 1 }
        while valueEnd > valueStart, line[valueEnd - 1] == HTTPSyntax.space || line[valueEnd - 1] == HTTPSyntax.tab { valueEnd -= 1 }
        let value = line[valueStart..<valueEnd]
        guard value.allSatisfy(HTTPSyntax.isFieldValueByte) else { return .failure(.invalidHeaderValue) }
        return .success((name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self)))
    }
}
