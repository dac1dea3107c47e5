"""YAML parsed ahead of need by a second process, for the big batches a command meets.

Why: one commit that adds 10,000 agents and 20,000 review entries, `status` over
10,000 agent files, or the first audit of a long history, spends much of its time in
PyYAML's C composer, one file after another, while the machine's other core sits
idle. Two ways to use that core:

- a batch (``submit``, ``MIN_BATCH`` blobs or more: a process costs about 0.1 s to
  start and stop): the helper parses the blobs from the end of the list while this
  process works from its start;
- a walk (``follow``, after ``FOLLOW_AFTER`` commits): the helper walks the rest of
  the history as the audit does and parses each new blob before the audit reaches
  it; its pipe holds it back when it runs far ahead, so memory stays flat.

Each file this process reaches takes the helper's result if it has arrived, and is
parsed here otherwise: this process never waits. What crosses over is only the fast
path's plain data for a blob id (a content hash: the helper reads the same object
this process would) and, for an agent, values that are functions of those data,
pickled; every check that comes after parsing (size limit, encoding, schema, rules)
still runs here on the same bytes, so the verdicts cannot differ. A helper that
cannot start, dies or lags only costs the time it would have saved.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from agentpolicy.model.yamlload import NOT_PARSED

MIN_BATCH = 2000
_CHUNK = 64
_DRAIN_EVERY = 0.005  # seconds between looks at the pipe while this process parses on its own
# Wait for the helper's answer instead of parsing here (seconds; 0: never wait). Only the tests
# set it, so that every file really goes through the helper and its answers are compared.
WAIT_FOR_HELPER = 0.0
# False in processes that are themselves one of several workers (the inventory's): their
# siblings already use every core, and a helper each would only add processes.
HELPERS_ALLOWED = True
FOLLOW_AFTER = 1000  # commits a walk makes on its own before a helper walks ahead of it
_WALKED = "walked"  # the helper's last message after a walk
_HELD = 256  # results kept that were not asked for yet (a walk's helper runs ahead)


class Parsed(NamedTuple):
    """What the helper made of one blob: the fast path's data and, for a mapping that is not a
    review entry, its governed content and digest (``model/digest``: functions of the data)
    and the text the audit's digest cache stores for it."""

    data: Any
    governed: dict[str, Any] | None
    digest: str | None
    stored: str | None = None  # the data as the digest cache stores them (``storable_text``)


class ParsedAhead:
    """Blob id -> the fast YAML path's data, filled by a helper process; see the module doc."""

    def __init__(self, git_dir: str, min_batch: int | None = None) -> None:
        self.git_dir = git_dir
        self.min_batch = MIN_BATCH if min_batch is None else min_batch
        self.follow_after = FOLLOW_AFTER
        self._store: OrderedDict[str, bytes | None] = OrderedDict()  # arrived, pickled (None: nothing)
        self._asked: set[str] = set()  # sent and not yet taken
        self._connection: Any = None
        self._process: Any = None
        self._failed = False
        self._next_drain = 0.0  # a look at the pipe is a system call: not for every file
        self._following = False  # a helper walks the history ahead: any blob may arrive
        self._walked = False  # and has sent everything it will

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

    def follow(self, head: str, hide: str | None, first_parent: bool, folders: list[str], skip: int) -> None:
        """Have the helper walk the history as the audit does (``History.steps``), past the
        first ``skip`` commits, and parse every new blob under ``folders`` before it is reached."""
        if not self._started():
            return
        try:
            self._connection.send(("walk", head, hide, first_parent, folders, skip))
        except (OSError, ValueError):
            self._stop()
            return
        self._following = True

    def take(self, blob: str) -> Parsed | None:
        """What the helper made of ``blob`` if it has arrived (each result is taken once), else
        None: the caller parses the file itself."""
        if blob not in self._asked and not self._following:
            return None
        if blob not in self._store and (WAIT_FOR_HELPER or time.monotonic() >= self._next_drain):
            self._drain(blob, WAIT_FOR_HELPER)
            self._next_drain = time.monotonic() + _DRAIN_EVERY
        if blob not in self._store:
            return None
        self._asked.discard(blob)
        packed = self._store.pop(blob)
        if packed is None:
            return None
        parsed: Parsed = Parsed(*pickle.loads(packed))  # our own helper's bytes, over our own pipe
        return parsed

    def close(self) -> None:
        self._store.clear()
        self._asked.clear()
        self._stop()

    def _started(self) -> bool:
        if self._connection is not None:
            return True
        if self._failed or not HELPERS_ALLOWED:
            return False
        try:
            methods = multiprocessing.get_all_start_methods()
            context: Any = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            here, there = context.Pipe()
            process = context.Process(target=_helper, args=(self.git_dir, there), daemon=True)
            with _outside_the_work_tree():
                process.start()
            there.close()
        except (OSError, ValueError, RuntimeError, EOFError):  # EOFError: a forkserver that died
            self._failed = True
            return False
        self._connection, self._process = here, process
        return True

    def _drain(self, wanted: str, wait: float = 0.0) -> None:
        """Take the chunks that have arrived, up to the one holding ``wanted`` (waiting ``wait``
        seconds for each): the rest stay in the pipe, which stops a helper that runs far ahead,
        so memory holds a few chunks, not the history."""
        connection = self._connection
        if connection is None:
            return
        try:
            while wanted not in self._store and not (self._walked and wanted not in self._asked):
                if not connection.poll(wait):
                    break
                chunk = connection.recv()
                if chunk == _WALKED:
                    self._walked = True
                    continue
                self._store.update(chunk)
                if self._following:  # results of a walk nobody asks for (a cached blob) go first
                    while len(self._store) > _HELD:
                        self._store.popitem(last=False)
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


@contextlib.contextmanager
def _outside_the_work_tree() -> Iterator[None]:
    """Start processes from the standard library's folder: multiprocessing starts its servers
    with `python -c`, which puts the current folder first on the import path, and the current
    folder is the repository's work tree, where anyone with commit access can put a
    `multiprocessing.py`. From there, the first folder on the path is the standard library itself."""
    here = os.getcwd()
    os.chdir(os.path.dirname(contextlib.__file__))
    try:
        yield
    finally:
        os.chdir(here)


def _helper(git_dir: str, connection: Any) -> None:  # pragma: no cover - runs in the helper process
    """Parse what is asked, sending results in chunks as they are made: a batch from its end,
    a walk in its order."""
    from agentpolicy.git.objects import blob_data
    from agentpolicy.git.repo import open_git_dir

    # ``git_dir`` is the repository, absolute. A hook's GIT_DIR and GIT_WORK_TREE (relative to a
    # folder this process is not in) would send `Repo` elsewhere.
    for variable in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        os.environ.pop(variable, None)
    repo = open_git_dir(git_dir)
    outbox = _Outbox(connection)
    requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
    threading.Thread(target=_receive, args=(connection, requests), daemon=True).start()
    try:
        while True:
            request = requests.get()
            if request is None:
                return
            if isinstance(request, tuple):
                _walk_ahead(git_dir, request, outbox)
                continue
            for blob in reversed(request):
                outbox.add(blob, _parsed(lambda blob=blob: blob_data(repo, blob)))
            outbox.flush()
    except (EOFError, OSError, KeyboardInterrupt):
        return
    finally:
        connection.close()


def _receive(connection: Any, requests: queue.SimpleQueue[Any]) -> None:  # pragma: no cover - helper
    """Take every request as it comes, in a thread of its own. The helper is held back while
    its results wait in the pipe unread, and a command that sent the next big batch then would
    wait for the helper to read it: each waiting for the other, forever (two huge commits)."""
    try:
        while True:
            requests.put(connection.recv())
    except (EOFError, OSError, pickle.UnpicklingError):
        requests.put(None)


def _walk_ahead(git_dir: str, request: tuple[Any, ...], outbox: _Outbox) -> None:  # pragma: no cover
    from agentpolicy.git.history import History
    from agentpolicy.git.repo import Repo

    _, head, hide, first_parent, folders, skip = request
    history = History(Repo(git_dir), folders)
    seen: set[str] = set()
    for number, step in enumerate(history.steps(head, hide, first_parent)):
        if number < skip:
            continue
        for delta in step.deltas:
            blob = delta.new_id
            if blob and blob not in seen:
                seen.add(blob)
                outbox.add(blob, _parsed(lambda blob=blob: history.blob(blob)))
    outbox.flush()
    outbox.connection.send(_WALKED)


def _parsed(read: Any) -> bytes | None:  # pragma: no cover - runs in the helper process
    """A blob's `Parsed`, pickled; None when the fast path does not decide it."""
    from agentpolicy.cache.agent_digests import storable_text
    from agentpolicy.model.digest import digest_of, governed_content
    from agentpolicy.model.yamlload import fast_data

    try:
        data = fast_data(read())
    except Exception:  # a damaged object: the command says so when it reads it itself
        return None
    if data is NOT_PARSED:
        return None
    governed = digest = stored = None
    if isinstance(data, dict) and data.get("kind") != "Review":
        governed = governed_content(data)
        digest = digest_of(governed)
        stored = storable_text(data)
    return pickle.dumps((data, governed, digest, stored), pickle.HIGHEST_PROTOCOL)


class _Outbox:  # pragma: no cover - runs in the helper process
    """Results sent in chunks: one message per result would cost more than parsing it."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.chunk: dict[str, bytes | None] = {}

    def add(self, blob: str, packed: bytes | None) -> None:
        self.chunk[blob] = packed
        if len(self.chunk) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.chunk:
            self.connection.send(self.chunk)
            self.chunk = {}
