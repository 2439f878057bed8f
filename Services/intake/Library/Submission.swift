import Logging
import Domain
import FoundationEssentials
import HTTPServer

/// The body of `POST /v1/applications`, as decoded. Checks beyond types happen in
/// ``Submission/validated()``, which reports every problem at once.
struct Submission: Decodable {
    var service: String
    var applicant: Applicant
    /// Only checked to be an object while decoding; its text is taken from the body as sent.
    var form: FormObject
    var attachments: [AttachmentUpload]?
    var payment: Payment?
    var submittedAt: String?
    /// Where the `form` value is in the body (set after decoding).
    var formRange: Range<Int>?

    enum CodingKeys: String, CodingKey {
        case service, applicant, form, attachments, payment
        case submittedAt = "submitted_at"
    }

    /// A JSON object whose members are not decoded (the body's text of it is stored as jsonb).
    struct FormObject: Decodable {
        struct AnyKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: Decoder) throws {
            _ = try decoder.container(keyedBy: AnyKey.self)
        }
    }

    struct Applicant: Decodable {
        var name: String
        var email: String?
        var address: Address?
        var postbox: Postbox?
    }

    struct Address: Decodable {
        var street: String?
        var postalCode: String?
        var city: String?
        var municipalityKey: String?

        enum CodingKeys: String, CodingKey {
            case street, city
            case postalCode = "postal_code"
            case municipalityKey = "municipality_key"
        }
    }

    struct Postbox: Decodable {
        var mailboxID: String
        var trustLevel: String
        var documentConsent: Bool?

        enum CodingKeys: String, CodingKey {
            case mailboxID = "mailbox_id"
            case trustLevel = "trust_level"
            case documentConsent = "document_consent"
        }
    }

    /// An attachment. Its base64 text is not turned into a string: when the body scanner found
    /// it as plain base64, only its range in the body is kept (decoded later in chunks);
    /// otherwise (escapes) it is decoded here.
    struct AttachmentUpload: Decodable {
        enum Content {
            case range(Range<Int>)
            case decoded([UInt8]?)  // nil: not valid base64
        }

        var filename: String
        var contentType: String
        var content: Content
        var sha256: String?

        enum CodingKeys: String, CodingKey {
            case filename
            case contentType = "content_type"
            case contentBase64 = "content_base64"
            case sha256
        }

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            filename = try container.decode(String.self, forKey: .filename)
            contentType = try container.decode(String.self, forKey: .contentType)
            sha256 = try container.decodeIfPresent(String.self, forKey: .sha256)
            if let ranges = decoder.userInfo[AttachmentRanges.userInfoKey] as? AttachmentRanges,
               let index = decoder.codingPath.last?.intValue, let range = ranges.ranges[index], container.contains(.contentBase64) {
                content = .range(range)
            } else {
                content = .decoded(Base64.decode(try container.decode(String.self, forKey: .contentBase64)))
            }
        }
    }

    struct Payment: Decodable {
        var provider: String
        var transactionID: String
        var amountCents: Int
        var status: String

        enum CodingKeys: String, CodingKey {
            case provider, status
            case transactionID = "transaction_id"
            case amountCents = "amount_cents"
        }
    }

    /// The checked submission, or a 422 naming every offending field.
    func validated(now: Date, body: [UInt8]) throws -> ValidSubmission {
        var errors: [Problem.FieldError] = []
        func fail(_ field: String, _ code: String, _ message: String) {
            errors.append(.init(field: field, code: code, message: message))
        }

        let serviceKey = service
        if !Self.isServiceKey(serviceKey) { fail("service", "unknown-service", "is not a service of this tenant") }

        // Applicant
        let name = applicant.name.trimmingWhitespace()
        if name.isEmpty { fail("applicant.name", "blank", "must not be blank") }
        else if name.count > 300 { fail("applicant.name", "too-long", "must be at most 300 characters") }
        else if name.containsControlCharacters { fail("applicant.name", "invalid", "must not contain control characters") }
        var email: String?
        if let raw = applicant.email {
            let trimmed = raw.trimmingWhitespace()
            if Self.isPlausibleEmail(trimmed) { email = trimmed } else { fail("applicant.email", "invalid-email", "is not an e-mail address") }
        }
        var address: [String: String]?
        if let a = applicant.address {
            var fields: [String: String] = [:]
            if let postal = a.postalCode {
                if postal.utf8.count == 5 && postal.utf8.allSatisfy(\.isASCIIDigit) { fields["postal_code"] = postal }
                else { fail("applicant.address.postal_code", "invalid-postal-code", "must be five digits") }
            }
            if let key = a.municipalityKey {
                if key.utf8.count == 8 && key.utf8.allSatisfy(\.isASCIIDigit) { fields["municipality_key"] = key }
                else { fail("applicant.address.municipality_key", "invalid-municipality-key", "must be an 8-digit municipality key (AGS)") }
            }
            for (field, value) in [("street", a.street), ("city", a.city)] {
                guard let value else { continue }
                if value.count > 200 || value.containsControlCharacters { fail("applicant.address.\(field)", "invalid", "must be at most 200 characters without control characters") }
                else { fields[field] = value }
            }
            address = fields
        }
        var postbox: ValidSubmission.Postbox?
        if let p = applicant.postbox {
            let mailbox = UUID(uuidString: p.mailboxID)
            if mailbox == nil { fail("applicant.postbox.mailbox_id", "invalid-uuid", "must be a UUID") }
            let trust = TrustLevel(rawValue: p.trustLevel)
            if trust == nil { fail("applicant.postbox.trust_level", "unknown-trust-level", "must be basic, substantial or high") }
            if let mailbox, let trust { postbox = .init(mailboxID: mailbox, trustLevel: trust, documentConsent: p.documentConsent ?? false) }
        }

        // Form: its text as sent, checked here and parsed by the database as jsonb.
        var formJSON = ""
        if let range = formRange {
            body.withUnsafeBytes { raw in
                let text = UnsafeRawBufferPointer(rebasing: raw[range])
                if text.count > IntakeLimits.maxFormBytes {
                    fail("form", "too-large", "must be at most \(IntakeLimits.maxFormBytes) bytes as JSON")
                } else if JSONText.depth(text) > IntakeLimits.maxFormDepth {
                    fail("form", "too-deep", "must not nest deeper than \(IntakeLimits.maxFormDepth) levels")
                } else if JSONText.containsEscapedNUL(text) {
                    fail("form", "invalid", "must not contain NUL characters")
                } else {
                    formJSON = String(decoding: text, as: UTF8.self)
                }
            }
        } else {
            fail("form", "invalid", "could not be read")
        }

        // Attachments
        var files: [ValidSubmission.File] = []
        if let attachments {
            if attachments.count > IntakeLimits.maxAttachments {
                fail("attachments", "too-many", "at most \(IntakeLimits.maxAttachments) attachments")
            }
            var total = 0
            for (index, upload) in attachments.enumerated() {
                let prefix = "attachments[\(index)]"
                let filename = Self.sanitizedFilename(upload.filename)
                let contentType = upload.contentType.split(separator: ";", maxSplits: 1).first.map { String($0).trimmingWhitespace().lowercased() } ?? ""
                if !IntakeLimits.allowedContentTypes.contains(contentType) {
                    fail("\(prefix).content_type", "unsupported-content-type", "is not one of the allowed content types")
                }
                let size: Int, digest: [UInt8], source: ValidSubmission.File.Source
                var sniffer = AttachmentSniffer(contentType: contentType)
                switch upload.content {
                case .decoded(let bytes?):
                    (size, digest, source) = (bytes.count, SHA256.hash(bytes), .bytes(bytes))
                    sniffer.feed(bytes)
                case .range(let range):
                    guard let measured = Base64ChunkReader.measure(body: body, range: range, feeding: &sniffer) else {
                        fail("\(prefix).content_base64", "invalid-base64", "is not valid base64")
                        continue
                    }
                    (size, digest, source) = (measured.size, measured.sha256, .body(range))
                case .decoded(nil):
                    fail("\(prefix).content_base64", "invalid-base64", "is not valid base64")
                    continue
                }
                total += size
                if size > IntakeLimits.maxAttachmentBytes {
                    fail("\(prefix).content_base64", "too-large", "must be at most \(IntakeLimits.maxAttachmentBytes) bytes decoded")
                    continue
                }
                if IntakeLimits.allowedContentTypes.contains(contentType) {
                    switch sniffer.refusal() {
                    case .mismatch?: fail("\(prefix).content_base64", "content-mismatch", "is not a file of type \(contentType)")
                    case .activeContent?: fail("\(prefix).content_base64", "active-content", "contains markup a browser would run (script, HTML, SVG)")
                    case nil: break
                    }
                }
                if let given = upload.sha256 {
                    if let expected = Hex.decode(given), expected.count == 32 {
                        if expected != digest { fail("\(prefix).sha256", "checksum-mismatch", "does not match the content") }
                    } else {
                        fail("\(prefix).sha256", "invalid", "must be 64 hexadecimal digits")
                    }
                }
                files.append(.init(filename: filename, contentType: contentType, source: source, size: size, sha256: digest))
            }
            if total > IntakeLimits.maxTotalAttachmentBytes {
                fail("attachments", "too-large", "must be at most \(IntakeLimits.maxTotalAttachmentBytes) bytes together, decoded")
            }
        }

        // Payment
        var paymentJSON: String?
        if let p = payment {
            if p.provider.isEmpty || p.provider.count > 100 || p.provider.containsControlCharacters { fail("payment.provider", "invalid", "must be 1 to 100 characters") }
            if p.transactionID.isEmpty || p.transactionID.count > 200 || p.transactionID.containsControlCharacters { fail("payment.transaction_id", "invalid", "must be 1 to 200 characters") }
            if p.amountCents < 0 || p.amountCents > 100_000_000_00 { fail("payment.amount_cents", "out-of-range", "must be between 0 and 10000000000") }
            if p.status.isEmpty || p.status.count > 50 || p.status.containsControlCharacters { fail("payment.status", "invalid", "must be 1 to 50 characters") }
            paymentJSON = "{\"provider\":\(jsonQuoted(p.provider)),\"transaction_id\":\(jsonQuoted(p.transactionID)),\"amount_cents\":\(p.amountCents),\"status\":\(jsonQuoted(p.status))}"
        }

        // Submitted at
        var submitted = now
        if let text = submittedAt {
            if let date = Self.parseTimestamp(text) {
                if date > now.addingTimeInterval(300) { fail("submitted_at", "in-future", "must not be in the future") }
                else if date < Date(timeIntervalSince1970: 946_684_800) { fail("submitted_at", "out-of-range", "must be after 2000-01-01") }
                else { submitted = date }
            } else {
                fail("submitted_at", "invalid-timestamp", "must be an RFC 3339 timestamp, e.g. 2026-11-23T12:00:00Z")
            }
        }

        if !errors.isEmpty { throw HTTPError.validationFailed(errors) }

        var applicantJSON = "{\"name\":\(jsonQuoted(name))"
        if let email { applicantJSON += ",\"email\":\(jsonQuoted(email))" }
        if let address {
            applicantJSON += ",\"address\":{" + address.keys.sorted().map { "\(jsonQuoted($0)):\(jsonQuoted(address[$0]!))" }.joined(separator: ",") + "}"
        }
        applicantJSON += "}"
        return ValidSubmission(
            serviceKey: serviceKey, applicantJSON: applicantJSON, postbox: postbox,
            formJSON: formJSON, paymentJSON: paymentJSON, files: files, submittedAt: submitted,
            body: body
        )
    }

    /// The schema's service key format `^[a-z0-9][a-z0-9._-]{0,63}$`.
    static func isServiceKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func allowed(_ b: UInt8) -> Bool { (97...122).contains(b) || b.isASCIIDigit }
        return allowed(bytes[0]) && bytes.dropFirst().allSatisfy { allowed($0) || $0 == 46 || $0 == 95 || $0 == 45 }
    }

    static func isPlausibleEmail(_ text: String) -> Bool {
        guard text.utf8.count <= 254, !text.containsControlCharacters, !text.contains(" ") else { return false }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64 else { return false }
        let domain = parts[1]
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { !$0.isEmpty && $0.utf8.count <= 63 && !$0.hasPrefix("-") && !$0.hasSuffix("-") }
            && labels.last!.utf8.count >= 2
    }

    /// The last path component, without control characters, format characters (bidi controls,
    /// zero-width characters: they make a name read other than it is) and reserved characters,
    /// at most 255 bytes.
    static func sanitizedFilename(_ raw: String) -> String {
        let lastComponent = raw.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        var cleaned = ""
        for scalar in lastComponent.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) { continue }
            if scalar.properties.generalCategory == .format { continue }
            if "<>:\"|?*".unicodeScalars.contains(scalar) { cleaned.unicodeScalars.append("_") } else { cleaned.unicodeScalars.append(scalar) }
        }
        cleaned = cleaned.trimmingWhitespace()
        while cleaned.hasPrefix(".") { cleaned.removeFirst() }
        cleaned = cleaned.trimmingWhitespace()
        while cleaned.utf8.count > 255 { cleaned.removeFirst() }
        return cleaned.isEmpty ? "attachment" : cleaned
    }

    static func parseTimestamp(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }
}

/// A submission that passed every check, ready to store.
struct ValidSubmission: Sendable {
    struct Postbox: Sendable {
        var mailboxID: UUID
        var trustLevel: TrustLevel
        var documentConsent: Bool
    }

    struct File: Sendable {
        enum Source: Sendable {
            /// Decoded already (small, or sent with escapes).
            case bytes([UInt8])
            /// Base64 text at this range of the request body, decoded in chunks when stored.
            case body(Range<Int>)
        }

        var filename: String
        var contentType: String
        var source: Source
        var size: Int
        var sha256: [UInt8]
    }

    var serviceKey: String
    var applicantJSON: String
    var postbox: Postbox?
    var formJSON: String
    var paymentJSON: String?
    var files: [File]
    var submittedAt: Date
    /// The request body the `.body` sources point into.
    var body: [UInt8]
}

func jsonQuoted(_ text: String) -> String {
    var out = ""
    JSONLine.appendString(text, to: &out)  // the one JSON string escaper (Shared/Logging)
    return out
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.unicodeScalars.first, first.properties.isWhitespace { scalars = Substring(scalars.unicodeScalars.dropFirst()) }
        while let last = scalars.unicodeScalars.last, last.properties.isWhitespace { scalars = Substring(scalars.unicodeScalars.dropLast()) }
        return String(scalars)
    }

    var containsControlCharacters: Bool {
        unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}

extension UInt8 {
    var isASCIIDigit: Bool { (48...57).contains(self) }
}
