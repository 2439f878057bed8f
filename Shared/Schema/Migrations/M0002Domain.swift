import Postgres

/// The whole domain of DESIGN.md: tenants, services, responsibility areas and their rules,
/// caseworkers, secrets (hashes only), applications with attachments, timeline and messages,
/// notification templates, intake idempotency, reference counters, the postbox reply cursor
/// and the append-only audit log.
///
/// Tenant isolation is structural: every tenant-owned table carries `tenant_id`, each
/// referenced table has `UNIQUE (tenant_id, id)`, and every reference between tenant-owned rows
/// is a composite foreign key `(tenant_id, x_id) → (tenant_id, id)`, so a row can never point at
/// another tenant's row. Lifecycle invariants of applications and messages are CHECKs.
/// Constraint names are spelled out so services can map violations to API errors.
enum M0002Domain {
    static let migration = Migration(version: 2, name: "domain", script: """
        -- MARK: Tenants -------------------------------------------------------------------
        CREATE TABLE tenants (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            slug text NOT NULL CONSTRAINT tenants_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
            name text NOT NULL CONSTRAINT tenants_name_length CHECK (length(name) BETWEEN 1 AND 200),
            -- Amtlicher Gemeindeschlüssel (AGS), 8 digits.
            municipality_key text CONSTRAINT tenants_municipality_key_format CHECK (municipality_key ~ '^[0-9]{8}$'),
            -- Prefix of human-readable references: ERK-2026-000123.
            reference_prefix text NOT NULL CONSTRAINT tenants_reference_prefix_format CHECK (reference_prefix ~ '^[A-Z][A-Z0-9]{1,9}$'),
            -- Policy: decisions (Bescheide) over the back channel; off by default (see seeds).
            decisions_via_back_channel boolean NOT NULL DEFAULT false,
            -- Where routing puts applications no rule matched (FK added below, after areas).
            fallback_area_id uuid,
            -- Language of texts people read (e-mails, citizen messages).
            locale text NOT NULL DEFAULT 'de' CONSTRAINT tenants_locale_format CHECK (locale ~ '^[a-z]{2}(-[A-Z]{2})?$'),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT tenants_slug_unique UNIQUE (slug),
            CONSTRAINT tenants_reference_prefix_unique UNIQUE (reference_prefix)
        );

        -- MARK: Services (Online-Dienste) ------------------------------------------------
        CREATE TABLE services (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            key text NOT NULL CONSTRAINT services_key_format CHECK (key ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
            name text NOT NULL CONSTRAINT services_name_length CHECK (length(name) BETWEEN 1 AND 200),
            -- LeiKa (Leistungskatalog) key, 14 digits.
            leika_key text CONSTRAINT services_leika_key_format CHECK (leika_key ~ '^[0-9]{14}$'),
            active boolean NOT NULL DEFAULT true,
            -- Minimum applicant trust level for documents over the back channel.
            document_trust_level text NOT NULL DEFAULT 'substantial'
                CONSTRAINT services_document_trust_level_check CHECK (document_trust_level IN ('basic', 'substantial', 'high')),
            -- Personal data of closed applications is deleted this many days after closing.
            retention_days integer NOT NULL DEFAULT 365 CONSTRAINT services_retention_days_range CHECK (retention_days BETWEEN 1 AND 36500),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT services_tenant_id_id_key UNIQUE (tenant_id, id),
            CONSTRAINT services_key_unique UNIQUE (tenant_id, key)
        );

        -- MARK: Responsibility areas (Zuständigkeitsbereiche) ---------------------------
        -- An area belongs to one service, or (service_id NULL) to the whole tenant, e.g. a
        -- central office used as the tenant's fallback area.
        CREATE TABLE responsibility_areas (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            service_id uuid,
            name text NOT NULL CONSTRAINT responsibility_areas_name_length CHECK (length(name) BETWEEN 1 AND 200),
            active boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT responsibility_areas_tenant_id_id_key UNIQUE (tenant_id, id),
            CONSTRAINT responsibility_areas_name_unique UNIQUE NULLS NOT DISTINCT (tenant_id, service_id, name),
            CONSTRAINT responsibility_areas_service_fk FOREIGN KEY (tenant_id, service_id) REFERENCES services (tenant_id, id)
        );
        CREATE INDEX responsibility_areas_by_service ON responsibility_areas (tenant_id, service_id);

        ALTER TABLE tenants ADD CONSTRAINT tenants_fallback_area_fk
            FOREIGN KEY (id, fallback_area_id) REFERENCES responsibility_areas (tenant_id, id)
            ON DELETE SET NULL (fallback_area_id) DEFERRABLE INITIALLY IMMEDIATE;

        -- Routing rules of a service, evaluated in `position` order; the first match wins.
        --   municipality_keys: {"values": ["05370016", ...]}   applicant.address.municipality_key in values
        --   postal_codes:      {"values": ["52525", "5253"]}  applicant.address.postal_code equals or starts with a value
        --   form_field:        {"field": "a.b", "values": [json, ...]}   form value at the dotted path in values
        --   default:           {}                              always matches
        CREATE TABLE area_rules (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            service_id uuid NOT NULL,
            area_id uuid NOT NULL,
            position integer NOT NULL CONSTRAINT area_rules_position_range CHECK (position >= 0),
            kind text NOT NULL CONSTRAINT area_rules_kind_check CHECK (kind IN ('municipality_keys', 'postal_codes', 'form_field', 'default')),
            definition jsonb NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT area_rules_definition_check CHECK (CASE kind
                WHEN 'municipality_keys' THEN CASE WHEN jsonb_typeof(definition -> 'values') = 'array'
                    THEN jsonb_array_length(definition -> 'values') > 0
                         AND NOT jsonb_path_exists(definition, '$.values[*] ? (@.type() != "string" || !(@ like_regex "^[0-9]{8}$"))')
                    ELSE false END
                WHEN 'postal_codes' THEN CASE WHEN jsonb_typeof(definition -> 'values') = 'array'
                    THEN jsonb_array_length(definition -> 'values') > 0
                         AND NOT jsonb_path_exists(definition, '$.values[*] ? (@.type() != "string" || !(@ like_regex "^[0-9]{1,5}$"))')
                    ELSE false END
                WHEN 'form_field' THEN CASE WHEN jsonb_typeof(definition -> 'values') = 'array' AND jsonb_typeof(definition -> 'field') = 'string'
                    THEN jsonb_array_length(definition -> 'values') > 0 AND length(definition ->> 'field') BETWEEN 1 AND 200
                    ELSE false END
                WHEN 'default' THEN definition = '{}'::jsonb
                ELSE false END),
            CONSTRAINT area_rules_tenant_id_id_key UNIQUE (tenant_id, id),
            CONSTRAINT area_rules_position_unique UNIQUE (tenant_id, service_id, position) DEFERRABLE INITIALLY DEFERRED,
            CONSTRAINT area_rules_service_fk FOREIGN KEY (tenant_id, service_id) REFERENCES services (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT area_rules_area_fk FOREIGN KEY (tenant_id, area_id) REFERENCES responsibility_areas (tenant_id, id) ON DELETE CASCADE
        );

        -- A rule may only send a service's applications to an area of that service or to a
        -- tenant-wide area.
        CREATE FUNCTION area_rules_check_area_service() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM responsibility_areas a
                       WHERE a.tenant_id = NEW.tenant_id AND a.id = NEW.area_id
                         AND a.service_id IS NOT NULL AND a.service_id <> NEW.service_id) THEN
                RAISE EXCEPTION 'area % belongs to another service', NEW.area_id
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'area_rules_area_service_check';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER area_rules_check_area_service BEFORE INSERT OR UPDATE ON area_rules
            FOR EACH ROW EXECUTE FUNCTION area_rules_check_area_service();

        -- MARK: Caseworkers (Sachbearbeitende) -------------------------------------------
        CREATE TABLE caseworkers (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            name text NOT NULL CONSTRAINT caseworkers_name_length CHECK (length(name) BETWEEN 1 AND 200),
            email text NOT NULL CONSTRAINT caseworkers_email_format CHECK (email ~ '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$' AND length(email) <= 254),
            roles text[] NOT NULL DEFAULT '{caseworker}'
                CONSTRAINT caseworkers_roles_check CHECK (cardinality(roles) >= 1 AND roles <@ ARRAY['caseworker', 'admin']::text[] AND array_position(roles, NULL) IS NULL),
            email_notifications boolean NOT NULL DEFAULT true,
            active boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT caseworkers_tenant_id_id_key UNIQUE (tenant_id, id)
        );
        CREATE UNIQUE INDEX caseworkers_email_unique ON caseworkers (tenant_id, lower(email));

        CREATE TABLE area_members (
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            area_id uuid NOT NULL,
            caseworker_id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, area_id, caseworker_id),
            CONSTRAINT area_members_area_fk FOREIGN KEY (tenant_id, area_id) REFERENCES responsibility_areas (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT area_members_caseworker_fk FOREIGN KEY (tenant_id, caseworker_id) REFERENCES caseworkers (tenant_id, id) ON DELETE CASCADE
        );
        CREATE INDEX area_members_by_caseworker ON area_members (tenant_id, caseworker_id);

        -- MARK: Secrets: only SHA-256 hashes of random tokens are stored -----------------
        CREATE TABLE caseworker_tokens (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            caseworker_id uuid NOT NULL,
            token_hash bytea NOT NULL CONSTRAINT caseworker_tokens_hash_length CHECK (octet_length(token_hash) = 32),
            label text NOT NULL DEFAULT '' CONSTRAINT caseworker_tokens_label_length CHECK (length(label) <= 200),
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz,
            last_used_at timestamptz,
            revoked_at timestamptz,
            CONSTRAINT caseworker_tokens_hash_unique UNIQUE (token_hash),
            CONSTRAINT caseworker_tokens_tenant_id_id_key UNIQUE (tenant_id, id),
            CONSTRAINT caseworker_tokens_caseworker_fk FOREIGN KEY (tenant_id, caseworker_id) REFERENCES caseworkers (tenant_id, id) ON DELETE CASCADE
        );

        CREATE TABLE intake_clients (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            name text NOT NULL CONSTRAINT intake_clients_name_length CHECK (length(name) BETWEEN 1 AND 200),
            key_hash bytea NOT NULL CONSTRAINT intake_clients_hash_length CHECK (octet_length(key_hash) = 32),
            -- true: may post to every service of the tenant; false: only to those in intake_client_services.
            all_services boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now(),
            last_used_at timestamptz,
            revoked_at timestamptz,
            CONSTRAINT intake_clients_hash_unique UNIQUE (key_hash),
            CONSTRAINT intake_clients_tenant_id_id_key UNIQUE (tenant_id, id)
        );

        CREATE TABLE intake_client_services (
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            intake_client_id uuid NOT NULL,
            service_id uuid NOT NULL,
            PRIMARY KEY (tenant_id, intake_client_id, service_id),
            CONSTRAINT intake_client_services_client_fk FOREIGN KEY (tenant_id, intake_client_id) REFERENCES intake_clients (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT intake_client_services_service_fk FOREIGN KEY (tenant_id, service_id) REFERENCES services (tenant_id, id) ON DELETE CASCADE
        );

        -- MARK: Applications (Anträge) ----------------------------------------------------
        CREATE TABLE applications (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            service_id uuid NOT NULL,
            -- Vorgangsnummer, e.g. ERK-2026-000123; unique per tenant.
            reference text NOT NULL CONSTRAINT applications_reference_format CHECK (reference ~ '^[A-Z][A-Z0-9]{1,9}-[0-9]{4}-[0-9]{6,}$'),
            status text NOT NULL DEFAULT 'received' CONSTRAINT applications_status_check
                CHECK (status IN ('received', 'assigned', 'in_progress', 'awaiting_applicant', 'completed', 'withdrawn', 'unroutable')),
            outcome text CONSTRAINT applications_outcome_check CHECK (outcome IN ('approved', 'rejected', 'done')),
            area_id uuid,
            claimed_by uuid,
            -- Optimistic concurrency (If-Match); bumped by every write.
            version integer NOT NULL DEFAULT 1 CONSTRAINT applications_version_positive CHECK (version >= 1),
            intake_client_id uuid,
            -- Personal data (NULL once deleted after retention):
            --   applicant: {"name", "email"?, "address"?: {"street"?, "postal_code"?, "city"?, "municipality_key"?}}
            applicant jsonb,
            form jsonb,
            -- {"provider", "transaction_id", "amount_cents", "status"}
            payment jsonb,
            -- Citizen postbox (Servicekonto/BundID) for the back channel.
            postbox_mailbox_id uuid,
            postbox_trust_level text CONSTRAINT applications_postbox_trust_level_check CHECK (postbox_trust_level IN ('basic', 'substantial', 'high')),
            document_consent boolean NOT NULL DEFAULT false,
            submitted_at timestamptz NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            -- When it reached completed or withdrawn (start of the retention period).
            closed_at timestamptz,
            personal_data_deleted_at timestamptz,
            CONSTRAINT applications_tenant_id_id_key UNIQUE (tenant_id, id),
            CONSTRAINT applications_reference_unique UNIQUE (tenant_id, reference),
            CONSTRAINT applications_service_fk FOREIGN KEY (tenant_id, service_id) REFERENCES services (tenant_id, id),
            CONSTRAINT applications_area_fk FOREIGN KEY (tenant_id, area_id) REFERENCES responsibility_areas (tenant_id, id),
            CONSTRAINT applications_claimed_by_fk FOREIGN KEY (tenant_id, claimed_by) REFERENCES caseworkers (tenant_id, id),
            CONSTRAINT applications_intake_client_fk FOREIGN KEY (tenant_id, intake_client_id) REFERENCES intake_clients (tenant_id, id),
            -- An outcome exactly when completed.
            CONSTRAINT applications_outcome_when_completed CHECK ((status = 'completed') = (outcome IS NOT NULL)),
            -- Claimed exactly while being worked on; never claimed before assignment.
            CONSTRAINT applications_claim_matches_status CHECK (CASE status
                WHEN 'in_progress' THEN claimed_by IS NOT NULL
                WHEN 'awaiting_applicant' THEN claimed_by IS NOT NULL
                WHEN 'received' THEN claimed_by IS NULL
                WHEN 'assigned' THEN claimed_by IS NULL
                WHEN 'unroutable' THEN claimed_by IS NULL
                ELSE true END),
            -- Routed applications have an area; received and unroutable ones do not.
            CONSTRAINT applications_area_matches_status CHECK (CASE status
                WHEN 'received' THEN area_id IS NULL
                WHEN 'unroutable' THEN area_id IS NULL
                WHEN 'withdrawn' THEN true
                ELSE area_id IS NOT NULL END),
            CONSTRAINT applications_closed_at_matches_status CHECK ((status IN ('completed', 'withdrawn')) = (closed_at IS NOT NULL)),
            -- Personal data is present until deleted, and deleted only once closed.
            CONSTRAINT applications_personal_data_present CHECK (personal_data_deleted_at IS NOT NULL
                OR (applicant IS NOT NULL AND form IS NOT NULL)),
            CONSTRAINT applications_personal_data_deleted_when_closed CHECK (personal_data_deleted_at IS NULL OR status IN ('completed', 'withdrawn')),
            CONSTRAINT applications_applicant_shape CHECK (applicant IS NULL OR (jsonb_typeof(applicant) = 'object'
                AND jsonb_typeof(applicant -> 'name') = 'string')),
            CONSTRAINT applications_form_is_object CHECK (form IS NULL OR jsonb_typeof(form) = 'object'),
            CONSTRAINT applications_payment_shape CHECK (payment IS NULL OR (jsonb_typeof(payment) = 'object'
                AND jsonb_typeof(payment -> 'provider') = 'string'
                AND jsonb_typeof(payment -> 'transaction_id') = 'string'
                AND jsonb_typeof(payment -> 'amount_cents') = 'number'
                AND jsonb_typeof(payment -> 'status') = 'string')),
            -- A postbox has a trust level; consent to documents needs a postbox.
            CONSTRAINT applications_postbox_trust_level CHECK ((postbox_mailbox_id IS NULL) = (postbox_trust_level IS NULL)),
            CONSTRAINT applications_document_consent_needs_postbox CHECK (NOT document_consent OR postbox_mailbox_id IS NOT NULL)
        );
        -- Inbox: open applications of an area, newest first.
        CREATE INDEX applications_inbox ON applications (tenant_id, area_id, status, received_at DESC);
        CREATE INDEX applications_by_status ON applications (tenant_id, status, received_at DESC);
        CREATE INDEX applications_by_claimer ON applications (tenant_id, claimed_by) WHERE claimed_by IS NOT NULL;
        -- Retention sweep: closed applications whose personal data is still there.
        CREATE INDEX applications_retention ON applications (closed_at) WHERE closed_at IS NOT NULL AND personal_data_deleted_at IS NULL;

        -- Files posted with an application (origin applicant) or attached by a caseworker to a
        -- document message (origin caseworker). `content` is NULL once deleted after retention.
        CREATE TABLE attachments (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            application_id uuid NOT NULL,
            origin text NOT NULL DEFAULT 'applicant' CONSTRAINT attachments_origin_check CHECK (origin IN ('applicant', 'caseworker')),
            position smallint NOT NULL DEFAULT 0 CONSTRAINT attachments_position_range CHECK (position >= 0),
            filename text NOT NULL CONSTRAINT attachments_filename_check
                CHECK (length(filename) BETWEEN 1 AND 255 AND filename !~ '[/\\\\[:cntrl:]]' AND filename NOT IN ('.', '..')),
            content_type text NOT NULL CONSTRAINT attachments_content_type_format CHECK (content_type ~ '^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$'),
            size_bytes bigint NOT NULL CONSTRAINT attachments_size_range CHECK (size_bytes BETWEEN 0 AND 10485760),
            sha256 bytea NOT NULL CONSTRAINT attachments_sha256_length CHECK (octet_length(sha256) = 32),
            content bytea,
            created_at timestamptz NOT NULL DEFAULT now(),
            deleted_at timestamptz,
            CONSTRAINT attachments_tenant_id_id_key UNIQUE (tenant_id, id),
            CONSTRAINT attachments_application_fk FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT attachments_content_present CHECK ((content IS NULL) = (deleted_at IS NOT NULL)),
            CONSTRAINT attachments_content_size CHECK (content IS NULL OR octet_length(content) = size_bytes)
        );
        -- Uploads are mostly compressed formats (PDF, JPEG): skip TOAST compression, keep out-of-line.
        ALTER TABLE attachments ALTER COLUMN content SET STORAGE EXTERNAL;
        CREATE INDEX attachments_by_application ON attachments (tenant_id, application_id, position);

        -- The application's history. `public` events are shown to the applicant's portal
        -- (status API), `internal` ones only to caseworkers. `data` holds ids and status names,
        -- never personal data.
        CREATE TABLE timeline_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            application_id uuid NOT NULL,
            kind text NOT NULL CONSTRAINT timeline_events_kind_check CHECK (kind IN (
                'received', 'assigned', 'unroutable', 'claimed', 'released', 'forwarded', 'status_changed',
                'awaiting_applicant', 'resumed', 'completed', 'withdrawn', 'message_sent', 'message_delivered',
                'message_failed', 'reply_received', 'note', 'attachment_added', 'personal_data_deleted')),
            visibility text NOT NULL DEFAULT 'internal' CONSTRAINT timeline_events_visibility_check CHECK (visibility IN ('public', 'internal')),
            actor_kind text NOT NULL CONSTRAINT timeline_events_actor_kind_check CHECK (actor_kind IN ('system', 'caseworker', 'applicant', 'intake_client', 'operator')),
            actor_caseworker_id uuid,
            from_status text CONSTRAINT timeline_events_from_status_check CHECK (from_status IN ('received', 'assigned', 'in_progress', 'awaiting_applicant', 'completed', 'withdrawn', 'unroutable')),
            to_status text CONSTRAINT timeline_events_to_status_check CHECK (to_status IN ('received', 'assigned', 'in_progress', 'awaiting_applicant', 'completed', 'withdrawn', 'unroutable')),
            data jsonb NOT NULL DEFAULT '{}' CONSTRAINT timeline_events_data_is_object CHECK (jsonb_typeof(data) = 'object'),
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT timeline_events_application_fk FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT timeline_events_actor_fk FOREIGN KEY (tenant_id, actor_caseworker_id) REFERENCES caseworkers (tenant_id, id),
            CONSTRAINT timeline_events_actor_matches_kind CHECK ((actor_kind = 'caseworker') = (actor_caseworker_id IS NOT NULL))
        );
        CREATE INDEX timeline_events_by_application ON timeline_events (tenant_id, application_id, id);

        -- MARK: Messages over the back channel ------------------------------------------
        -- Outbound: status/question/information/document/decision to the citizen postbox, with
        -- a delivery state. Inbound: the applicant's replies (kind 'reply').
        CREATE TABLE messages (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            application_id uuid NOT NULL,
            direction text NOT NULL CONSTRAINT messages_direction_check CHECK (direction IN ('outbound', 'inbound')),
            kind text NOT NULL CONSTRAINT messages_kind_check CHECK (kind IN ('status', 'question', 'information', 'document', 'decision', 'reply')),
            -- BundID postbox status for status messages: RECEIVED, PROCESSING, ACTION_REQUIRED, COMPLETED.
            postbox_status text CONSTRAINT messages_postbox_status_check CHECK (postbox_status IN ('RECEIVED', 'PROCESSING', 'ACTION_REQUIRED', 'COMPLETED')),
            subject text CONSTRAINT messages_subject_length CHECK (length(subject) <= 255),
            -- NULL once personal data is deleted after retention.
            body text CONSTRAINT messages_body_length CHECK (length(body) <= 100000),
            -- Every message carries a trust level (BundID stork_qaa_level basic→1, substantial→3, high→4).
            trust_level text NOT NULL CONSTRAINT messages_trust_level_check CHECK (trust_level IN ('basic', 'substantial', 'high')),
            -- Citizen postbox: receiver of outbound, sender of inbound messages.
            mailbox_id uuid NOT NULL,
            delivery_state text CONSTRAINT messages_delivery_state_check CHECK (delivery_state IN ('queued', 'delivered', 'failed')),
            failure_reason text CONSTRAINT messages_failure_reason_length CHECK (length(failure_reason) <= 2000),
            -- Id at the postbox (stable idempotency key outward; the postbox's id for inbound).
            external_id text CONSTRAINT messages_external_id_length CHECK (length(external_id) <= 200),
            in_reply_to uuid,
            sent_by uuid,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            delivered_at timestamptz,
            CONSTRAINT messages_tenant_id_id_key UNIQUE (tenant_id, id),
            CONSTRAINT messages_application_fk FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT messages_in_reply_to_fk FOREIGN KEY (tenant_id, in_reply_to) REFERENCES messages (tenant_id, id),
            CONSTRAINT messages_sent_by_fk FOREIGN KEY (tenant_id, sent_by) REFERENCES caseworkers (tenant_id, id),
            CONSTRAINT messages_kind_matches_direction CHECK ((direction = 'inbound') = (kind = 'reply')),
            CONSTRAINT messages_delivery_state_outbound_only CHECK ((direction = 'outbound') = (delivery_state IS NOT NULL)),
            CONSTRAINT messages_failure_reason_when_failed CHECK (CASE WHEN delivery_state = 'failed' THEN failure_reason IS NOT NULL ELSE failure_reason IS NULL END),
            CONSTRAINT messages_delivered_at_when_delivered CHECK (CASE WHEN delivery_state = 'delivered' THEN delivered_at IS NOT NULL ELSE delivered_at IS NULL END),
            CONSTRAINT messages_postbox_status_for_status CHECK ((kind = 'status') = (postbox_status IS NOT NULL)),
            CONSTRAINT messages_sent_by_outbound_only CHECK (sent_by IS NULL OR direction = 'outbound')
        );
        CREATE INDEX messages_by_application ON messages (tenant_id, application_id, created_at);
        CREATE UNIQUE INDEX messages_external_id_unique ON messages (tenant_id, direction, external_id) WHERE external_id IS NOT NULL;
        CREATE INDEX messages_undelivered ON messages (tenant_id, delivery_state) WHERE delivery_state IN ('queued', 'failed');

        -- Attachments of a document message (outbound) or a reply (inbound).
        CREATE TABLE message_attachments (
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            message_id uuid NOT NULL,
            attachment_id uuid NOT NULL,
            PRIMARY KEY (tenant_id, message_id, attachment_id),
            CONSTRAINT message_attachments_message_fk FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT message_attachments_attachment_fk FOREIGN KEY (tenant_id, attachment_id) REFERENCES attachments (tenant_id, id) ON DELETE CASCADE
        );

        -- MARK: Notification templates (per tenant; German defaults live in code) --------
        -- kind: channel and event, e.g. 'email.new_application', 'email.applicant_replied',
        -- 'email.delivery_failed', 'citizen.status.in_progress'.
        CREATE TABLE notification_templates (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            kind text NOT NULL CONSTRAINT notification_templates_kind_format CHECK (kind ~ '^(email|citizen)\\.[a-z_]{1,40}(\\.[a-z_]{1,40})?$'),
            locale text NOT NULL DEFAULT 'de' CONSTRAINT notification_templates_locale_format CHECK (locale ~ '^[a-z]{2}(-[A-Z]{2})?$'),
            subject text NOT NULL CONSTRAINT notification_templates_subject_length CHECK (length(subject) BETWEEN 1 AND 255),
            body text NOT NULL CONSTRAINT notification_templates_body_length CHECK (length(body) BETWEEN 1 AND 20000),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, kind, locale)
        );

        -- MARK: Intake idempotency --------------------------------------------------------
        -- Key per intake client; the first response is replayed for the same request body,
        -- a different body is refused. Kept at least 24 h (expires_at), then pruned.
        CREATE TABLE intake_idempotency_keys (
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            intake_client_id uuid NOT NULL,
            key text NOT NULL CONSTRAINT intake_idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255),
            request_hash bytea NOT NULL CONSTRAINT intake_idempotency_keys_hash_length CHECK (octet_length(request_hash) = 32),
            application_id uuid NOT NULL,
            response_status smallint NOT NULL,
            response_body jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL DEFAULT now() + interval '24 hours',
            PRIMARY KEY (tenant_id, intake_client_id, key),
            CONSTRAINT intake_idempotency_keys_client_fk FOREIGN KEY (tenant_id, intake_client_id) REFERENCES intake_clients (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT intake_idempotency_keys_application_fk FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT intake_idempotency_keys_kept_a_day CHECK (expires_at >= created_at + interval '24 hours')
        );
        CREATE INDEX intake_idempotency_keys_expiry ON intake_idempotency_keys (expires_at);

        -- MARK: Reference counters (per tenant and year) --------------------------------
        -- Incremented in a short transaction of its own before the intake transaction, so the
        -- row lock is not held across the intake commit: references are unique, and a rolled
        -- back intake leaves a gap.
        CREATE TABLE reference_counters (
            tenant_id uuid NOT NULL REFERENCES tenants (id),
            year smallint NOT NULL CONSTRAINT reference_counters_year_range CHECK (year BETWEEN 2000 AND 9999),
            last_value bigint NOT NULL DEFAULT 0 CONSTRAINT reference_counters_last_value_range CHECK (last_value >= 0),
            PRIMARY KEY (tenant_id, year)
        );

        -- MARK: Servicekonto reply cursor -------------------------------------------------
        -- Where polling the postbox API for replies stopped, per tenant (NULL: one cursor for
        -- the whole installation) and endpoint.
        CREATE TABLE servicekonto_reply_cursors (
            tenant_id uuid REFERENCES tenants (id),
            endpoint text NOT NULL CONSTRAINT servicekonto_reply_cursors_endpoint_length CHECK (length(endpoint) BETWEEN 1 AND 500),
            cursor text CONSTRAINT servicekonto_reply_cursors_cursor_length CHECK (length(cursor) <= 2000),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT servicekonto_reply_cursors_unique UNIQUE NULLS NOT DISTINCT (tenant_id, endpoint)
        );

        -- MARK: Audit log (append-only) ---------------------------------------------------
        -- Who did what when. Only ids and pseudonymous metadata (status names, counts, field
        -- names), never personal data, so entries outlive the deletable payload. No foreign
        -- keys: entries outlive the rows they name.
        CREATE TABLE audit_log (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant_id uuid,
            occurred_at timestamptz NOT NULL DEFAULT now(),
            actor_kind text NOT NULL CONSTRAINT audit_log_actor_kind_check CHECK (actor_kind IN ('caseworker', 'intake_client', 'system', 'operator', 'applicant')),
            actor_id uuid,
            -- e.g. application.create, application.read, attachment.read, application.claim,
            -- message.send, service.create, caseworker.create, token.create, dead_letter.replay
            action text NOT NULL CONSTRAINT audit_log_action_format CHECK (action ~ '^[a-z][a-z_]*(\\.[a-z][a-z_]*)+$'),
            object_kind text NOT NULL CONSTRAINT audit_log_object_kind_format CHECK (object_kind ~ '^[a-z][a-z_]{0,40}$'),
            object_id text CONSTRAINT audit_log_object_id_length CHECK (length(object_id) <= 100),
            application_id uuid,
            request_id text CONSTRAINT audit_log_request_id_length CHECK (length(request_id) <= 100),
            details jsonb NOT NULL DEFAULT '{}' CONSTRAINT audit_log_details_is_object CHECK (jsonb_typeof(details) = 'object'),
            CONSTRAINT audit_log_actor_id_unless_system CHECK (actor_kind IN ('system', 'operator', 'applicant') OR actor_id IS NOT NULL)
        );
        CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, occurred_at);
        CREATE INDEX audit_log_by_application ON audit_log (application_id, occurred_at) WHERE application_id IS NOT NULL;

        CREATE FUNCTION audit_log_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'audit_log_append_only';
        END $$;
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_reject_change();
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION audit_log_reject_change();
        """)
}
