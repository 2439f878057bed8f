/// What the bridge could not take of an applicant's reply is shown to the caseworker on the
/// inbound message: `text_truncated` (the text was cut to the postbox limit) and
/// `rejected_attachments` (`[{"filename", "reason"}]`, files refused for checksum or size).
/// Retention clears the file names with the rest of the personal data.
enum M0007ReplyIssues {
    static let migration = Migration(version: 7, name: "reply_issues", script: """
        ALTER TABLE messages
            ADD COLUMN text_truncated boolean NOT NULL DEFAULT false,
            ADD COLUMN rejected_attachments jsonb NOT NULL DEFAULT '[]'
                CONSTRAINT messages_rejected_attachments_array CHECK (jsonb_typeof(rejected_attachments) = 'array');
        """)
}
