import FoundationEssentials

/// Implemented by request bodies that check more than their types: after decoding, the router
/// helpers call ``validate()`` and answer 422 listing every problem at once.
public protocol Validatable {
    func validate() -> [Problem.FieldError]
}

extension RequestContext {
    /// Decodes the JSON body as `T`.
    ///
    /// - 415 `unsupported-media-type` unless `Content-Type` is `application/json` or `application/*+json`;
    /// - 400 `invalid-json` when the body is not JSON;
    /// - 422 `validation-failed` with code `duplicate-key` naming a member name that occurs twice
    ///   in one object (``JSONDuplicateKeys``);
    /// - 422 `validation-failed` naming the field (`items[2].name`) that is missing, null, of the
    ///   wrong type or invalid, and every problem ``Validatable/validate()`` reports.
    public func decodeJSON<T: Decodable>(_ type: T.Type = T.self, decoder: JSONDecoder = JSONCoding.makeDecoder()) throws -> T {
        guard JSONCoding.isJSONContentType(request.headers["Content-Type"]) else {
            throw HTTPError(.unsupportedMediaType, code: "unsupported-media-type", detail: "Send the body as application/json.")
        }
        try request.body.withUnsafeBytes { try JSONCoding.refuseDuplicateNames($0) }
        let value: T
        do {
            value = try decoder.decode(T.self, from: Data(request.body))
        } catch let error as DecodingError {
            throw JSONCoding.problem(for: error)
        }
        if let validatable = value as? any Validatable {
            let problems = validatable.validate()
            if !problems.isEmpty { throw HTTPError.validationFailed(problems) }
        }
        return value
    }
}

extension HTTPResponse {
    /// A JSON response (`application/json`), encoded with ``JSONCoding/makeEncoder()``.
    public static func json<T: Encodable>(
        _ value: T, status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders(),
        encoder: JSONEncoder = JSONCoding.makeEncoder()
    ) throws -> HTTPResponse {
        var allHeaders = headers
        allHeaders.replaceOrAdd(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: status, headers: allHeaders, body: Array(try encoder.encode(value)))
    }
}

/// The project's JSON conventions and the mapping from decoding errors to field problems.
public enum JSONCoding {
    /// ISO 8601 dates, sorted keys (stable output for ETags and tests), unescaped slashes.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    public static func isJSONContentType(_ value: String?) -> Bool {
        guard let value else { return false }
        let mediaType = value.split(separator: ";", maxSplits: 1)[0].trimmingHTTPWhitespace().lowercased()
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }

    /// A 422 naming the first member name that occurs twice in one object of `json`.
    public static func refuseDuplicateNames(_ json: UnsafeRawBufferPointer) throws(HTTPError) {
        if let duplicate = JSONDuplicateKeys.firstDuplicate(in: json) {
            throw .validationFailed([.init(field: duplicate, code: "duplicate-key", message: "occurs more than once in its object")])
        }
    }

    /// The problem for a decoding error. Messages never repeat the submitted value.
    public static func problem(for error: DecodingError) -> HTTPError {
        switch error {
        case .keyNotFound(let key, let context):
            return .validationFailed([.init(field: path(context.codingPath + [key]), code: "missing", message: "is required")])
        case .valueNotFound(_, let context):
            return .validationFailed([.init(field: path(context.codingPath), code: "null", message: "must not be null")])
        case .typeMismatch(let type, let context):
            if context.codingPath.isEmpty {
                return .validationFailed([.init(field: "", code: "wrong-type", message: "the body must be a JSON \(describe(type))")])
            }
            return .validationFailed([.init(field: path(context.codingPath), code: "wrong-type", message: "must be \(describe(type))")])
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return HTTPError(.badRequest, code: "invalid-json", detail: "The body is not valid JSON.")
            }
            return .validationFailed([.init(field: path(context.codingPath), code: "invalid", message: "has an invalid value")])
        @unknown default:
            return HTTPError(.badRequest, code: "invalid-json", detail: "The body could not be decoded.")
        }
    }

    /// `applicant.addresses[1].postal_code`
    static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue, key.stringValue.hasPrefix("Index ") || key.stringValue == String(index) {
                text += "[\(index)]"
            } else {
                if !text.isEmpty { text += "." }
                text += key.stringValue
            }
        }
        return text
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is [Any].Type: "an array"
        default: String(describing: type).hasPrefix("Array") ? "an array" : (String(describing: type).hasPrefix("Dictionary") ? "an object" : "a \(String(describing: type))")
        }
    }
}
