import Logging

/// An RFC 9457 problem detail, sent as `application/problem+json`.
///
/// Besides the standard members (`type`, `title`, `status`, `detail`) every problem carries a
/// stable machine-readable `code`, the `request_id`, and for validation failures `errors`, one
/// entry per offending field.
public struct Problem: Sendable, Equatable {
    /// One problem with one field of the request (JSON path such as `applicant.postal_code`).
    public struct FieldError: Sendable, Equatable {
        public var field: String
        /// Stable code, e.g. `missing`, `wrong-type`, `too-long`.
        public var code: String
        public var message: String

        public init(field: String, code: String, message: String) {
            self.field = field
            self.code = code
            self.message = message
        }
    }

    /// Prefix of every problem `type` URI; the code completes it.
    public static let typePrefix = "urn:amtsweg:problem:"

    public var status: HTTPStatus
    public var code: String
    public var title: String
    public var detail: String?
    public var errors: [FieldError]
    /// Extra members (e.g. `current_state` for a 409); values are strings.
    public var extensions: [String: String]

    public init(
        status: HTTPStatus, code: String, title: String? = nil, detail: String? = nil,
        errors: [FieldError] = [], extensions: [String: String] = [:]
    ) {
        self.status = status
        self.code = code
        self.title = title ?? status.reasonPhrase
        self.detail = detail
        self.errors = errors
        self.extensions = extensions
    }

    /// The `type` member: `urn:amtsweg:problem:<code>`.
    public var type: String { Problem.typePrefix + code }

    /// The problem as a response, with the request id in the body.
    public func response(requestID: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var json = "{\"type\":"
        JSONLine.appendString(type, to: &json)
        json += ",\"title\":"
        JSONLine.appendString(title, to: &json)
        json += ",\"status\":\(status.code)"
        if let detail {
            json += ",\"detail\":"
            JSONLine.appendString(detail, to: &json)
        }
        json += ",\"code\":"
        JSONLine.appendString(code, to: &json)
        json += ",\"request_id\":"
        JSONLine.appendString(requestID, to: &json)
        for key in extensions.keys.sorted() where !Problem.reservedMembers.contains(key) {
            json += ","
            JSONLine.appendString(key, to: &json)
            json += ":"
            JSONLine.appendString(extensions[key]!, to: &json)
        }
        if !errors.isEmpty {
            json += ",\"errors\":["
            for (index, error) in errors.enumerated() {
                if index > 0 { json += "," }
                json += "{\"field\":"
                JSONLine.appendString(error.field, to: &json)
                json += ",\"code\":"
                JSONLine.appendString(error.code, to: &json)
                json += ",\"message\":"
                JSONLine.appendString(error.message, to: &json)
                json += "}"
            }
            json += "]"
        }
        json += "}"
        var allHeaders = headers
        allHeaders.replaceOrAdd(name: "Content-Type", value: "application/problem+json")
        return HTTPResponse(status: status, headers: allHeaders, body: Array(json.utf8))
    }

    private static let reservedMembers: Set<String> = ["type", "title", "status", "detail", "code", "request_id", "errors"]
}
