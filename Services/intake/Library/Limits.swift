/// The named limits of the intake API (documented in openapi.yaml).
public enum IntakeLimits {
    /// Largest request body; past it the server answers 413 before reading it.
    public static let maxBodyBytes = 32 << 20
    /// Largest attachment, decoded.
    public static let maxAttachmentBytes = 10 << 20
    public static let maxAttachments = 20
    /// All attachments of one application together, decoded.
    public static let maxTotalAttachmentBytes = 25 << 20
    /// The `form` object re-encoded as JSON.
    public static let maxFormBytes = 1 << 20
    public static let maxFormDepth = 32
    public static let maxIdempotencyKeyLength = 255

    /// Content types an attachment may have.
    public static let allowedContentTypes: Set<String> = [
        "application/pdf",
        "image/jpeg", "image/png", "image/tiff", "image/gif", "image/webp", "image/heic",
        "text/plain", "text/csv", "text/xml", "application/xml", "application/json",
        "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/msword", "application/vnd.ms-excel",
    ]
}
