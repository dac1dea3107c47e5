"""YAML parsed ahead of need by a second process, for the big batches a command meets.

Why: one commit that adds 10,000 agents and 20,000 review entries, or `status`
over 10,000 agent files, spends about half its time in PyYAML's C composer, one
file after another, while the machine's other core sits idle. When a batch is
big enough to pay for a process (``MIN_BATCH`` blobs; one costs about 0.1 s to
start and stop), the blob ids go to a helper process that reads and parses them
from the end of the list while this
process works from its start; each file this process reaches takes the helper's
result if it has arrived, and parses the file itself otherwise. It never waits.

What crosses over is only the fast path's plain data for a blob id (a content
hash: the helper reads the same object this process would), pickled, so every
check that comes after parsing (size limit, encoding, schema, rules) still runs
here on the same bytes, and the verdicts cannot differ. A helper that cannot
start, dies or lags only costs the time it would have saved.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import time
from collections.abc import Iterable
from typing import Any

from agentpolicy.model.yamlload import NOT_PARSED

MIN_BATCH = 2000
_CHUNK = 64
_DRAIN_EVERY = 0.005  # seconds between looks at the pipe while this process parses on its own
# Wait for the helper's answer instead of parsing here (seconds; 0: never wait). Only the tests
# set it, so that every file really goes through the helper and its answers are compared.
WAIT_FOR_HELPER = 0.0


class ParsedAhead:
    """Blob id -> the fast YAML path's data, filled by a helper process; see the module doc."""

    def __init__(self, git_dir: str, min_batch: int | None = None) -> None:
        self.git_dir = git_dir
        self.min_batch = MIN_BATCH if min_batch is None else min_batch
        self._store: dict[str, bytes | None] = {}  # arrived: pickled data (None: the helper had none)
        self._asked: set[str] = set()  # sent and not yet taken
        self._connection: Any = None
        self._process: Any = None
        self._failed = False
        self._next_drain = 0.0  # a look at the pipe is a system call: not for every file

    def submit(self, blobs: Iterable[str]) -> None:
        """Have the helper parse these blobs (in the order this process is likely to need them)."""
        fresh = [blob for blob in dict.fromkeys(blobs) if blob not in self._asked]
        if len(fresh) < self.min_batch or not self._started():
            return
        try:
            self._connection.send(fresh)
        except (OSError, ValueError):
            self._stop()
            return
        self._asked.update(fresh)

    def take(self, blob: str) -> Any:
        """The fast path's data for ``blob`` if the helper has it (each result is taken once),
        else ``NOT_PARSED``: the caller parses the file itself."""
        if blob not in self._asked:
            return NOT_PARSED
        if blob not in self._store and (WAIT_FOR_HELPER or time.monotonic() >= self._next_drain):
            self._drain(WAIT_FOR_HELPER)
            self._next_drain = time.monotonic() + _DRAIN_EVERY
        if blob not in self._store:
            return NOT_PARSED
        self._asked.discard(blob)
        packed = self._store.pop(blob)
        return NOT_PARSED if packed is None else pickle.loads(packed)

    def close(self) -> None:
        self._store.clear()
        self._asked.clear()
        self._stop()

    def _started(self) -> bool:
        if self._connection is not None:
            return True
        if self._failed:
            return False
        try:
            methods = multiprocessing.get_all_start_methods()
            context: Any = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            here, there = context.Pipe()
            process = context.Process(target=_helper, args=(self.git_dir, there), daemon=True)
            process.start()
            there.close()
        except (OSError, ValueError, RuntimeError):
            self._failed = True
            return False
        self._connection, self._process = here, process
        return True

    def _drain(self, wait: float = 0.0) -> None:
        """Take every chunk that has arrived (waiting ``wait`` seconds for the first)."""
        connection = self._connection
        if connection is None:
            return
        try:
            while connection.poll(wait):
                self._store.update(connection.recv())
                wait = 0.0
        except (EOFError, OSError, pickle.UnpicklingError):
            self._stop()

    def _stop(self) -> None:
        connection, process = self._connection, self._process
        self._connection = self._process = None
        self._failed = True
        self._asked.intersection_update(self._store)
        if connection is not None:
            connection.close()
        if process is not None:  # it holds nothing worth a goodbye: it may be mid-batch
            process.kill()
            process.join(timeout=5)
            with contextlib.suppress(ValueError):
                process.close()


def _helper(git_dir: str, connection: Any) -> None:  # pragma: no cover - runs in the helper process
    """Parse each batch from its end, sending results in chunks as they are made."""
    from agentpolicy.git.objects import blob_data
    from agentpolicy.git.repo import open_git_dir
    from agentpolicy.model.yamlload import fast_data

    repo = open_git_dir(git_dir)
    try:
        while True:
            blobs = connection.recv()
            if blobs is None:
                return
            chunk: dict[str, bytes | None] = {}
            for blob in reversed(blobs):
                try:
                    data = fast_data(blob_data(repo, blob))
                except Exception:  # a damaged object: this process will say so when it reads it
                    data = NOT_PARSED
                chunk[blob] = None if data is NOT_PARSED else pickle.dumps(data, pickle.HIGHEST_PROTOCOL)
                if len(chunk) >= _CHUNK:
                    connection.send(chunk)
                    chunk = {}
            if chunk:
                connection.send(chunk)
    except (EOFError, OSError, KeyboardInterrupt):
        return
    finally:
        connection.close()
