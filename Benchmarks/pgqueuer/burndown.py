#!/usr/bin/env python3
"""Burn-down benchmark for pgqueuer (peer of Amtsweg's Swift queue benchmark).

Usage:
    python3 burndown.py --dsn DSN --jobs 100000 --batch-size 100

Steps:
  1. Install pgqueuer's schema into the database if it is not there yet
     (pgqueuer's own Queries.schema_is_installed() / Queries.install(), i.e.
     what `pgq install` does; plain DDL, no extensions needed).
  2. Remove leftover jobs/log rows of the benchmark entrypoint (and VACUUM
     the queue and log tables), then pre-insert
     --jobs jobs with pgqueuer's batch enqueue (--insert-batch rows per call).
  3. Time pgqueuer's own consumer, QueueManager.run(), with one no-op
     entrypoint, draining the queue. Settings: batch_size=--batch-size; all
     other QueueManager.run() arguments at pgqueuer's defaults
     (mode=continuous, max_concurrent_tasks=None i.e. unlimited,
     dequeue_timeout=30s, heartbeat_timeout=30s, log_aggregation_interval=30s);
     entrypoint concurrency_limit=0 (unlimited); one asyncpg connection
     (AsyncpgDriver), uvloop event loop like the `pgq run` CLI.
     The handler counts its calls; the call that completes the N-th job sets
     QueueManager.shutdown, and the clock stops only once run() has returned,
     i.e. after the consumer has flushed its status-log buffer (which deletes
     the finished jobs from the queue table) and shut down cleanly.
  4. Verify: N distinct jobs handled, no benchmark job left in the queue table,
     N 'successful' rows in pgqueuer's log table for the enqueued ids.
  5. Print exactly one JSON line to stdout; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from importlib.metadata import version as dist_version

ENTRYPOINT = "amtsweg_burndown_noop"
PAYLOAD = b'{"n":0}'


def log(msg: str) -> None:
    print(f"[pgqueuer-burndown] {msg}", file=sys.stderr, flush=True)


class BenchmarkError(Exception):
    pass


async def connect(dsn: str):
    import asyncpg

    try:
        return await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        raise BenchmarkError(f"cannot connect to PostgreSQL with --dsn: {type(e).__name__}: {e}") from e


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="pgqueuer burn-down benchmark")
    p.add_argument("--dsn", required=True, help="PostgreSQL DSN (asyncpg syntax)")
    p.add_argument("--jobs", type=int, default=100_000, help="jobs to pre-insert and drain")
    p.add_argument("--batch-size", type=int, default=100, help="consumer dequeue batch size")
    p.add_argument(
        "--insert-batch", type=int, default=10_000, help="jobs per enqueue call (setup only)"
    )
    p.add_argument(
        "--stall-timeout",
        type=float,
        default=60.0,
        help="fail if no job completes for this many seconds",
    )
    a = p.parse_args()
    if a.jobs <= 0 or a.batch_size <= 0 or a.insert_batch <= 0 or a.stall_timeout <= 0:
        p.error("--jobs, --batch-size, --insert-batch and --stall-timeout must be positive")
    return a


async def run(args: argparse.Namespace) -> dict:
    from pgqueuer import AsyncpgDriver, Queries, QueueManager
    from pgqueuer.models import Job

    n = args.jobs
    pgq_version = dist_version("pgqueuer")
    log(f"pgqueuer {pgq_version}, asyncpg {dist_version('asyncpg')}, jobs={n}, batch_size={args.batch_size}")

    # ---- setup connection: schema install, cleanup, pre-insert -------------
    setup_conn = await connect(args.dsn)
    try:
        setup_q = Queries(AsyncpgDriver(setup_conn))
        if await setup_q.schema_is_installed():
            log("pgqueuer schema already installed")
        else:
            await setup_q.install()
            log("installed pgqueuer schema")

        names = setup_q.qbe.qualified
        queue_table, log_table = names.queue_table, names.queue_table_log

        leftover = await setup_conn.fetchval(
            f"SELECT count(*) FROM {queue_table} WHERE entrypoint = $1", ENTRYPOINT
        )
        if leftover:
            log(f"removing {leftover} leftover '{ENTRYPOINT}' jobs from an earlier run")
        await setup_q.clear_queue(ENTRYPOINT)
        await setup_q.clear_queue_log(ENTRYPOINT)
        # Reclaim dead rows from earlier runs so a reused database starts close
        # to a fresh one (a fresh database per run is still the cleanest).
        await setup_conn.execute(f"VACUUM {queue_table}, {log_table}")

        t0 = time.perf_counter()
        ids: list[int] = []
        for start in range(0, n, args.insert_batch):
            k = min(args.insert_batch, n - start)
            ids.extend(await setup_q.enqueue([ENTRYPOINT] * k, [PAYLOAD] * k, [0] * k))
        if len(ids) != n:
            raise BenchmarkError(f"enqueue returned {len(ids)} ids, expected {n}")
        log(f"pre-inserted {n} jobs in {time.perf_counter() - t0:.2f}s")
        await setup_conn.execute(f"ANALYZE {queue_table}")
        min_id, max_id = min(ids), max(ids)
    finally:
        await setup_conn.close()

    # ---- consumer: pgqueuer's own QueueManager --------------------------------
    consumer_conn = await connect(args.dsn)
    try:
        qm = QueueManager(Queries(AsyncpgDriver(consumer_conn)))
        handled = 0
        seen: set[int] = set()
        last_progress = time.monotonic()
        stalled = False

        @qm.entrypoint(ENTRYPOINT)
        async def noop(job: Job) -> None:
            nonlocal handled, last_progress
            handled += 1
            seen.add(job.id)
            last_progress = time.monotonic()
            if handled >= n:
                qm.shutdown.set()

        async def watchdog() -> None:
            nonlocal stalled
            while not qm.shutdown.is_set():
                await asyncio.sleep(1.0)
                if time.monotonic() - last_progress > args.stall_timeout:
                    stalled = True
                    log(f"no progress for {args.stall_timeout:.0f}s at {handled}/{n}; stopping")
                    qm.shutdown.set()

        async def progress() -> None:
            while not qm.shutdown.is_set():
                await asyncio.sleep(5.0)
                log(f"progress: {handled}/{n} handled")

        wd = asyncio.create_task(watchdog())
        pr = asyncio.create_task(progress())
        t_start = time.perf_counter()
        try:
            await qm.run(batch_size=args.batch_size)
        finally:
            t_end = time.perf_counter()
            for t in (wd, pr):
                t.cancel()
            await asyncio.gather(wd, pr, return_exceptions=True)
    finally:
        await consumer_conn.close()

    seconds = t_end - t_start
    log(f"consumer stopped after {seconds:.3f}s; handler called {handled} times")
    if stalled:
        raise BenchmarkError(f"consumer stalled: only {handled}/{n} jobs handled")

    # ---- verification ---------------------------------------------------------
    verify_conn = await connect(args.dsn)
    try:
        remaining = await verify_conn.fetchval(
            f"SELECT count(*) FROM {queue_table} WHERE entrypoint = $1", ENTRYPOINT
        )
        logged_ok = await verify_conn.fetchval(
            f"SELECT count(DISTINCT job_id) FROM {log_table} "
            f"WHERE entrypoint = $1 AND status = 'successful' AND job_id BETWEEN $2 AND $3",
            ENTRYPOINT,
            min_id,
            max_id,
        )
    finally:
        await verify_conn.close()
    log(f"verify: handled={handled} distinct={len(seen)} queue_left={remaining} log_successful={logged_ok}")
    if handled != n or len(seen) != n or not seen.issubset(ids_set := set(ids)) or len(ids_set) != n:
        raise BenchmarkError(f"handler saw {handled} calls / {len(seen)} distinct enqueued jobs, expected {n}")
    if remaining != 0:
        raise BenchmarkError(f"{remaining} jobs still in {queue_table} after drain")
    if logged_ok != n:
        raise BenchmarkError(f"{log_table} has {logged_ok} successful jobs, expected {n}")

    return {
        "peer": "pgqueuer",
        "version": pgq_version,
        "jobs": n,
        "seconds": round(seconds, 3),
        "jobs_per_second": round(n / seconds, 1),
        "batch_size": args.batch_size,
    }


def main() -> int:
    args = parse_args()
    # pgqueuer logs via the "pgqueuer" logger; keep all logging on stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    try:
        import uvloop  # pgqueuer dependency; its `pgq run` CLI uses it too

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    # Anything that writes to sys.stdout while the benchmark runs goes to stderr;
    # stdout carries only the final JSON line.
    real_stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        result = runner(run(args))
    except BenchmarkError as e:
        log(f"FAILED: {e}")
        return 1
    except Exception as e:  # connection errors, schema errors, pgqueuer errors
        log(f"FAILED: {type(e).__name__}: {e}")
        return 1
    finally:
        sys.stdout = real_stdout
    print(json.dumps(result, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
