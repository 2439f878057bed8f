import Postgres

/// What the inbox service needs beyond the domain schema: caseworkers' internal notes (deleted
/// with the other personal data after retention), the record of once-a-day maintenance runs,
/// and an index for the open part of an inbox in its display order.
enum M0004Inbox {
    static let migration = Migration(version: 4, name: "inbox", script: """
        -- Internal notes of caseworkers on an application; never sent to the applicant.
        -- `body` is NULL once personal data is deleted after retention.
        CREATE TABLE application_notes (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            application_id uuid NOT NULL,
            author_id uuid NOT NULL,
            body text CONSTRAINT application_notes_body_length CHECK (length(body) BETWEEN 1 AND 10000),
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT application_notes_tenant_id_id_key UNIQUE (tenant_id, id),
            CONSTRAINT application_notes_application_fk FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT application_notes_author_fk FOREIGN KEY (tenant_id, author_id) REFERENCES caseworkers (tenant_id, id)
        );
        CREATE INDEX application_notes_by_application ON application_notes (tenant_id, application_id, created_at);

        -- Periodic maintenance (retention): when a job last ran, so one replica runs it once a day.
        CREATE TABLE maintenance_runs (
            name text PRIMARY KEY CONSTRAINT maintenance_runs_name_format CHECK (name ~ '^[a-z][a-z_]{0,62}$'),
            last_started_at timestamptz NOT NULL,
            last_finished_at timestamptz,
            details jsonb NOT NULL DEFAULT '{}'
        );

        -- Open applications of a tenant newest first: the inbox page of admins and the default view.
        CREATE INDEX applications_open_by_received ON applications (tenant_id, received_at DESC, id DESC)
            WHERE status IN ('assigned', 'in_progress', 'awaiting_applicant', 'unroutable', 'received');
        CREATE INDEX applications_open_by_area ON applications (tenant_id, area_id, received_at DESC, id DESC)
            WHERE status IN ('assigned', 'in_progress', 'awaiting_applicant', 'received');
        """)
}
