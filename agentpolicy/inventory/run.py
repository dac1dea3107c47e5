"""One inventory run: scan the repositories in worker processes, record them with one writer.

Workers only read repositories and hand back values; this process alone writes
the database, in one transaction for the whole run (so a killed run leaves the
previous complete state). A worker that dies (a crash inside libgit2 on a
hostile repository, the out-of-memory killer) costs only the repository it was
reading: the others in flight are read again, one by one, in fresh workers.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from agentpolicy.inventory.database import open_database
from agentpolicy.inventory.migrations import migrate
from agentpolicy.inventory.records import FAILED, READ, UNCHANGED, RepositoryScan, storable
from agentpolicy.inventory.scan import ScanJob, scan_repository, worker_setup
from agentpolicy.inventory.store import (
    AgentRow,
    RepositoryRow,
    previous_fingerprints,
    read_inventory,
    record_scan,
)

WORKER_DIED = "the worker process reading it stopped unexpectedly (a crash, or out of memory)"


@dataclass
class InventoryRequest:
    repositories: list[bytes]  # real absolute paths (see `sources.repository_keys`)
    database: str | None = None  # a file path or a PostgreSQL URL; None: the default file
    rev: str | None = None  # None: each repository's default branch
    jobs: int | None = None  # None: one worker per core
    progress: Callable[[int, int], None] | None = None


@dataclass
class InventoryResult:
    database: str
    repositories: list[RepositoryRow]
    agents: list[AgentRow]
    read: int = 0
    unchanged: int = 0
    failed: int = 0
    notes: list[str] = field(default_factory=list)


def run_inventory(request: InventoryRequest) -> InventoryResult:
    database = open_database(request.database)
    try:
        before, after = migrate(database)
        notes = (
            [f"upgraded the database schema from version {before} to {after}"] if 0 < before < after else []
        )
        counts = {READ: 0, UNCHANGED: 0, FAILED: 0}
        with database.failures_explained():
            with database.transaction():
                known = previous_fingerprints(database)
                now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                jobs = [ScanJob(key, request.rev, known.get(key)) for key in request.repositories]
                for done, scan in enumerate(_scans(jobs, request.jobs, notes), 1):
                    record_scan(database, scan, now)
                    counts[scan.outcome] += 1
                    if request.progress:
                        request.progress(done, len(jobs))
            repositories, agents = read_inventory(database, request.repositories)
    finally:
        database.close()
    return InventoryResult(
        database.shown, repositories, agents, counts[READ], counts[UNCHANGED], counts[FAILED], notes
    )


def _context() -> multiprocessing.context.BaseContext:
    """A fresh interpreter per worker (forkserver where there is one): never a fork of this process,
    which holds the database connection and threads."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _scans(jobs: list[ScanJob], workers: int | None, notes: list[str]) -> Iterator[RepositoryScan]:
    """Each job's scan, in the order they finish; a few in flight per worker, so memory stays flat."""
    count = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    queue = list(reversed(jobs))
    while queue:
        orphans: list[ScanJob] = []
        with _pool(count) as pool:
            flight: dict[Future[RepositoryScan], ScanJob] = {}
            broken = False
            while (queue or flight) and not broken:
                try:
                    while queue and len(flight) < 2 * count:
                        flight[pool.submit(scan_repository, queue[-1])] = queue[-1]
                        queue.pop()
                except BrokenProcessPool:
                    broken = True
                finished, _ = wait(flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = flight.pop(future)
                    try:
                        scan = future.result()
                    except BrokenProcessPool:
                        orphans.append(job)
                        broken = True
                        continue
                    yield scan
            orphans += flight.values()
            if broken and not orphans and queue:  # the pool broke before any job: make progress alone
                orphans.append(queue.pop())
        if orphans:
            notes.append(
                f"a worker process stopped unexpectedly; {len(orphans)} repositories it may have been "
                "reading were read again, one at a time"
            )
        for job in orphans:  # one at a time: the one that breaks its own worker is the culprit
            yield _alone(job)


def _alone(job: ScanJob) -> RepositoryScan:
    with _pool(1) as pool:
        try:
            return pool.submit(scan_repository, job).result()
        except BrokenProcessPool:
            return RepositoryScan(job.key, storable(os.fsdecode(job.key)), FAILED, error=WORKER_DIED)


def _pool(count: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=count, mp_context=_context(), initializer=worker_setup)
