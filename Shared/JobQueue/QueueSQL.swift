import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import Postgres

/// Every statement the queue runs, in one place.
enum QueueSQL {
    static func definitions() -> SQLQuery {
        "SELECT name, max_attempts FROM queue_definitions"
    }

    static func insert(_ job: NewJob, maxAttempts: Int) -> SQLQuery {
        """
        INSERT INTO queue_jobs (queue, tenant_id, payload, priority, run_at, max_attempts, dedupe_key)
        VALUES (\(job.queue.rawValue), \(job.tenantID), \(PostgresRawJSON(job.payloadJSON))::jsonb, \(job.priority),
                now() + \(job.delayMilliseconds)::bigint * interval '1 millisecond', \(maxAttempts), \(job.dedupeKey))
        ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
        RETURNING id
        """
    }

    static func insertBatch(queues: [String], tenants: [UUID?], payloads: [PostgresRawJSON], priorities: [Int],
                            delays: [Int64], maxAttempts: [Int], dedupeKeys: [String?]) -> SQLQuery {
        """
        INSERT INTO queue_jobs (queue, tenant_id, payload, priority, run_at, max_attempts, dedupe_key)
        SELECT q, t, p, pr::smallint, now() + d * interval '1 millisecond', m, k
        FROM unnest(\(queues)::text[], \(tenants)::uuid[], \(payloads)::jsonb[], \(priorities)::int[],
                    \(delays)::bigint[], \(maxAttempts)::int[], \(dedupeKeys)::text[]) AS j(q, t, p, pr, d, m, k)
        ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
        RETURNING id
        """
    }

    /// Jobs from a producer's own rows (see `JobQueue.insertJobs(on:from:)`).
    static func insertSelect(queue: String, rows: SQLQuery) -> SQLQuery {
        """
        INSERT INTO queue_jobs (queue, tenant_id, payload, max_attempts, dedupe_key)
        SELECT \(queue), j.tenant_id, j.payload, (SELECT max_attempts FROM queue_definitions WHERE name = \(queue)), j.dedupe_key
        FROM (\(fragment: rows)) AS j(tenant_id, payload, dedupe_key)
        ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
        RETURNING id
        """
    }

    /// Live jobs naming an application of the statement's CTE `apps` (see `JobQueue.deleteJobsOfApps`).
    static let deleteJobsOfApps: SQLQuery = """
        DELETE FROM queue_jobs j USING apps
        WHERE j.tenant_id = apps.tenant_id AND j.payload ->> 'application_id' = apps.id::text
        RETURNING j.payload ->> 'application_id' AS application_id
        """

    /// Dead letters naming an application of the statement's CTE `apps`.
    static let deleteDeadLettersOfApps: SQLQuery = """
        DELETE FROM queue_dead_letters d USING apps
        WHERE d.tenant_id = apps.tenant_id AND d.payload ->> 'application_id' = apps.id::text
        RETURNING d.payload ->> 'application_id' AS application_id
        """

    /// Claims up to `limit` ready jobs under a new lease (the database clock judges readiness and
    /// the lease's end). Never a job in `excluding`: ids this process still holds unsettled, whose
    /// lease may have run out while their handler still runs here.
    static func claim(queue: QueueName, limit: Int, leaseID: UUID, consumer: String, leaseMilliseconds: Int64, excluding: [Int64]) -> SQLQuery {
        """
        WITH ready AS (
            SELECT id FROM queue_jobs
            WHERE queue = \(queue.rawValue) AND run_at <= now() AND id <> ALL(\(excluding)::bigint[])
            ORDER BY priority DESC, run_at, id
            LIMIT \(limit)
            FOR UPDATE SKIP LOCKED
        )
        UPDATE queue_jobs AS j
        SET lease_id = \(leaseID), leased_by = \(consumer), attempts = j.attempts + 1,
            run_at = now() + \(leaseMilliseconds)::bigint * interval '1 millisecond'
        FROM ready WHERE j.id = ready.id
        RETURNING j.id, j.tenant_id, j.payload, j.priority, j.attempts, j.max_attempts, j.created_at
        """
    }

    /// Deletes done jobs that still carry our lease; returns the ids it deleted.
    static func complete(ids: [Int64], leases: [UUID]) -> SQLQuery {
        """
        DELETE FROM queue_jobs AS j USING unnest(\(ids)::bigint[], \(leases)::uuid[]) AS done(id, lease_id)
        WHERE j.id = done.id AND j.lease_id = done.lease_id
        RETURNING j.id
        """
    }

    /// Puts a failed job back for a later attempt, if we still hold it.
    static func retry(id: Int64, leaseID: UUID, delayMilliseconds: Int64, error: String) -> SQLQuery {
        """
        UPDATE queue_jobs
        SET lease_id = NULL, leased_by = NULL, last_error = \(error),
            run_at = now() + \(delayMilliseconds)::bigint * interval '1 millisecond'
        WHERE id = \(id) AND lease_id = \(leaseID)
        RETURNING id
        """
    }

    /// Moves a job to the dead letters, if we still hold it.
    static func kill(id: Int64, leaseID: UUID, error: String) -> SQLQuery {
        """
        WITH dead AS (
            DELETE FROM queue_jobs WHERE id = \(id) AND lease_id = \(leaseID)
            RETURNING id, queue, tenant_id, payload, priority, attempts, max_attempts, dedupe_key, created_at
        )
        INSERT INTO queue_dead_letters (job_id, queue, tenant_id, payload, priority, attempts, max_attempts, dedupe_key, last_error, created_at)
        SELECT id, queue, tenant_id, payload, priority, attempts, max_attempts, dedupe_key, \(error), created_at FROM dead
        RETURNING job_id
        """
    }

    /// Gives claimed jobs back unrun (graceful stop): ready now, the attempt not counted.
    static func release(ids: [Int64], leases: [UUID]) -> SQLQuery {
        """
        UPDATE queue_jobs AS j
        SET lease_id = NULL, leased_by = NULL, run_at = now(), attempts = greatest(j.attempts - 1, 0)
        FROM unnest(\(ids)::bigint[], \(leases)::uuid[]) AS r(id, lease_id)
        WHERE j.id = r.id AND j.lease_id = r.lease_id
        """
    }

    /// Extends the leases of jobs still running; returns the ones it renewed. A lease that ran out
    /// (by the database's clock) is not renewed even while no one else took the job: the holder's
    /// local deadline passed with it, so it has stopped acting on the job.
    static func extendLeases(ids: [Int64], leases: [UUID], leaseMilliseconds: Int64) -> SQLQuery {
        """
        UPDATE queue_jobs AS j
        SET run_at = now() + \(leaseMilliseconds)::bigint * interval '1 millisecond'
        FROM unnest(\(ids)::bigint[], \(leases)::uuid[]) AS r(id, lease_id)
        WHERE j.id = r.id AND j.lease_id = r.lease_id AND j.run_at > now()
        RETURNING j.id, j.lease_id
        """
    }

    static func notify(channels: [String], payloads: [String]) -> SQLQuery {
        "SELECT count(pg_notify(c, p)) FROM unnest(\(channels)::text[], \(payloads)::text[]) AS n(c, p)"
    }

    // MARK: Dead letters

    static func deadLetters(queue: String?, tenantID: UUID?, afterID: Int64, limit: Int) -> SQLQuery {
        """
        SELECT id, job_id, queue, tenant_id, payload, attempts, max_attempts, last_error, created_at, died_at
        FROM queue_dead_letters
        WHERE (\(queue)::text IS NULL OR queue = \(queue)) AND (\(tenantID)::uuid IS NULL OR tenant_id = \(tenantID))
          AND id > \(afterID)
        ORDER BY id LIMIT \(limit)
        """
    }

    /// Moves dead letters back onto their queue as fresh jobs; returns the new job ids' queues.
    static func replay(ids: [Int64], tenantID: UUID?) -> SQLQuery {
        """
        WITH revived AS (
            DELETE FROM queue_dead_letters
            WHERE id = ANY(\(ids)::bigint[]) AND (\(tenantID)::uuid IS NULL OR tenant_id = \(tenantID))
            RETURNING queue, tenant_id, payload, priority, max_attempts, dedupe_key, created_at
        )
        INSERT INTO queue_jobs (queue, tenant_id, payload, priority, max_attempts, dedupe_key, created_at)
        SELECT queue, tenant_id, payload, priority, max_attempts, dedupe_key, created_at FROM revived
        ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
        RETURNING id, queue
        """
    }

    static func purge(ids: [Int64], tenantID: UUID?) -> SQLQuery {
        """
        DELETE FROM queue_dead_letters
        WHERE id = ANY(\(ids)::bigint[]) AND (\(tenantID)::uuid IS NULL OR tenant_id = \(tenantID))
        """
    }

    // MARK: Statistics

    static func statistics() -> SQLQuery {
        """
        SELECT d.name AS queue,
               count(j.id) FILTER (WHERE j.run_at <= now()) AS ready,
               count(j.id) FILTER (WHERE j.lease_id IS NOT NULL AND j.run_at > now()) AS running,
               count(j.id) FILTER (WHERE j.lease_id IS NULL AND j.run_at > now()) AS scheduled,
               coalesce(extract(epoch FROM now() - min(j.run_at) FILTER (WHERE j.run_at <= now())), 0)::float8 AS oldest_ready_seconds,
               (SELECT count(*) FROM queue_dead_letters x WHERE x.queue = d.name) AS dead
        FROM queue_definitions d LEFT JOIN queue_jobs j ON j.queue = d.name
        GROUP BY d.name ORDER BY d.name
        """
    }
}
