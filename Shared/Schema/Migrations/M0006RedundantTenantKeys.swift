/// Every insert checks its foreign keys by locking the referenced row (`FOR KEY SHARE`). Rows
/// written for each application (timeline events, messages, attachments, idempotency keys)
/// referenced their tenant directly, so every transaction of a tenant locked the same tenant row:
/// PostgreSQL records several lockers of one row as a MultiXact, and the system benchmark saw a
/// single such check take 40 ms under load. These rows also reference their application by
/// `(tenant_id, application_id)`, and the application references its tenant, so the direct key was
/// redundant: the database still refuses a row of a tenant that does not exist or that does not own
/// the application.
enum M0006RedundantTenantKeys {
    static let migration = Migration(version: 6, name: "redundant_tenant_keys", script: """
        ALTER TABLE timeline_events DROP CONSTRAINT timeline_events_tenant_id_fkey;
        ALTER TABLE messages DROP CONSTRAINT messages_tenant_id_fkey;
        ALTER TABLE attachments DROP CONSTRAINT attachments_tenant_id_fkey;
        ALTER TABLE intake_idempotency_keys DROP CONSTRAINT intake_idempotency_keys_tenant_id_fkey;
        """)
}
