import Postgres

/// The queue tables every service hands work over with.
///
/// A job is ready when `run_at <= now()`. Claiming sets `lease_id` and moves `run_at` to the
/// lease's end, so an expired lease makes the job ready again by itself (judged by the database
/// clock); an ack or retry only touches the row while it still carries the claimer's `lease_id`.
/// Done jobs are deleted; jobs past their last attempt move to `queue_dead_letters`.
enum M0001JobQueue {
    static let migration = Migration(version: 1, name: "job_queue", script: """
        CREATE TABLE queue_definitions (
            name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
            max_attempts integer NOT NULL DEFAULT 10 CHECK (max_attempts BETWEEN 1 AND 1000),
            description text NOT NULL DEFAULT ''
        );

        INSERT INTO queue_definitions (name, max_attempts, description) VALUES
            ('route', 20, 'accepted applications waiting to be routed to a responsibility area'),
            ('notify-email', 12, 'e-mails to caseworkers'),
            ('citizen-outbox', 15, 'messages and status updates to the applicant''s citizen postbox'),
            ('citizen-reply', 20, 'replies of applicants from their citizen postbox');

        CREATE TABLE queue_jobs (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            queue text NOT NULL REFERENCES queue_definitions (name),
            tenant_id uuid,
            payload jsonb NOT NULL,
            priority smallint NOT NULL DEFAULT 0,
            run_at timestamptz NOT NULL DEFAULT now(),
            attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            max_attempts integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 1000),
            dedupe_key text CHECK (length(dedupe_key) <= 200),
            lease_id uuid,
            leased_by text,
            last_error text,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        -- The claim scans this in order and stops after a batch of ready rows.
        CREATE INDEX queue_jobs_fetch ON queue_jobs (queue, priority DESC, run_at, id);
        -- A second enqueue with the same live key is a no-op.
        CREATE UNIQUE INDEX queue_jobs_dedupe ON queue_jobs (queue, dedupe_key) WHERE dedupe_key IS NOT NULL;
        -- Rows churn fast: vacuum early so dead tuples do not pile up.
        ALTER TABLE queue_jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 1);

        CREATE TABLE queue_dead_letters (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            job_id bigint NOT NULL,
            queue text NOT NULL REFERENCES queue_definitions (name),
            tenant_id uuid,
            payload jsonb NOT NULL,
            priority smallint NOT NULL,
            attempts integer NOT NULL,
            max_attempts integer NOT NULL,
            dedupe_key text,
            last_error text NOT NULL,
            created_at timestamptz NOT NULL,
            died_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE INDEX queue_dead_letters_by_queue ON queue_dead_letters (queue, died_at);
        CREATE INDEX queue_dead_letters_by_tenant ON queue_dead_letters (tenant_id, died_at);
        """)
}
