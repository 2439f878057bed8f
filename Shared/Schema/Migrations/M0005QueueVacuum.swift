/// `queue_jobs` is small but churns: every job is inserted, updated by its claim (and lease
/// extensions) and deleted by its ack, so dead row versions pile up at a few per job, and every
/// claim walks past them until a vacuum. The system benchmark found 20,583 dead rows next to 173
/// live ones after 40 s at 100 applications/s, with claims slowed by the walk. Vacuum it after a
/// fixed number of dead rows rather than a share (migration 1's 2 %) of a table that is nearly
/// empty, and without the cost-based pauses. Only dead rows count: a backlog waiting for a consumer
/// that is down is not vacuumed over and over. The server's `autovacuum_naptime` (60 s by default)
/// bounds how often autovacuum looks at all (see README, Operations).
enum M0005QueueVacuum {
    static let migration = Migration(version: 5, name: "queue_vacuum", script: """
        ALTER TABLE queue_jobs SET (
            autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0
        );
        """)
}
