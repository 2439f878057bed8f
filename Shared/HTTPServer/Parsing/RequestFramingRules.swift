/// The message-framing and connection rules of RFC 9112 applied to a parsed head: Host,
/// Content-Length, Transfer-Encoding, Expect and Connection (and one Authorization at most). Strict on purpose: anything a
/// proxy in front of us might read differently is refused (request smuggling).
enum RequestFramingRules {
    static func apply(to head: HTTPRequestHead) -> Result<ParsedRequestHead, HTTPProtocolError> {
        let headers = head.headers

        if head.version == .http1_1, headers.values(for: "Host").count != 1 {
            return .failure(.missingOrDuplicateHost)
        }

        // Which of two credentials counts is up to whoever reads them: a proxy and we could differ.
        if headers.values(for: "Authorization").count > 1 {
            return .failure(.duplicateAuthorization)
        }

        let framing: BodyFraming
        switch bodyFraming(head) {
        case .success(let value): framing = value
        case .failure(let error): return .failure(error)
        }

        var expectsContinue = false
        let expectations = headers.tokens(for: "Expect")
        if !expectations.isEmpty, head.version == .http1_1 {
            guard expectations == ["100-continue"] else { return .failure(.unsupportedExpectation) }
            expectsContinue = framing != .none && framing != .contentLength(0)
        }

        let connection = headers.tokens(for: "Connection")
        let keepAlive = switch head.version {
        case .http1_1: !connection.contains("close")
        case .http1_0: connection.contains("keep-alive") && !connection.contains("close")
        }
        return .success(ParsedRequestHead(head: head, framing: framing, expectsContinue: expectsContinue, keepAlive: keepAlive))
    }

    private static func bodyFraming(_ head: HTTPRequestHead) -> Result<BodyFraming, HTTPProtocolError> {
        let lengths = head.headers.values(for: "Content-Length")
        let encodings = head.headers.values(for: "Transfer-Encoding")
        if !encodings.isEmpty {
            guard lengths.isEmpty else { return .failure(.contentLengthWithTransferEncoding) }
            guard head.version == .http1_1 else { return .failure(.invalidTransferEncoding) }
            let codings = head.headers.tokens(for: "Transfer-Encoding")
            if let unknown = codings.first(where: { $0 != "chunked" }), !unknown.isEmpty {
                return .failure(.unknownTransferCoding)
            }
            guard codings == ["chunked"] else { return .failure(.invalidTransferEncoding) }
            return .success(.chunked)
        }
        guard !lengths.isEmpty else { return .success(.none) }
        guard lengths.count == 1 else { return .failure(.duplicateContentLength) }
        let digits = lengths[0].utf8
        guard !digits.isEmpty, digits.count <= 18,
              digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let length = Int(lengths[0])
        else {
            return .failure(lengths[0].contains(",") ? .duplicateContentLength : .invalidContentLength)
        }
        return .success(.contentLength(length))
    }
}
