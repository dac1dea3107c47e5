"""The audit's cache of what each agent blob defines, inside the git directory.

Why: a history walked once is not parsed again. Blob id -> (agent name, digest, the
file's data): the whole data, not only the governed fields, since packs' approval
policies match on any field. The same safety rules as the hook's cache
(``cache/derived``): sealed rows, any damage a miss, any database error the cache
off for the run.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from agentpolicy.cache.derived import CACHE_ERRORS, cell_text, code_digest, connect, failures, seal


def storable_text(data: dict[str, Any]) -> str | None:
    """The data as the digest cache stores them, or None when JSON would not read them back
    the same (a date, a NaN): such a blob is not cached."""
    try:
        text = json.dumps(data, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return text if json.loads(text) == data else None


class AgentDigestCache:
    """For the audit: blob id -> (agent name, digest, the file's data), so a history that was
    walked once is not parsed again. The whole data, not only the governed fields: packs'
    approval policies match on any field. Same safety rules as DerivedCache.

    Rows are read one blob at a time (a primary-key lookup) and new rows written every
    ``FLUSH_EVERY``, so memory does not grow with the length of the history walked."""

    FLUSH_EVERY = 1000

    def __init__(self, connection: Any, key: str) -> None:
        self.connection = connection
        self.key = key
        self.broken = False
        self.pending: dict[str, tuple[str, str, str, str, str, str]] = {}
        # No row under this key when the walk began (a first audit, a new version): every
        # lookup would miss, so none is made. A blob this run wrote and evicted is parsed again.
        self.empty = self._none_stored()

    @classmethod
    def open(cls, git_dir: str) -> AgentDigestCache | None:
        connection = connect(
            git_dir,
            "CREATE TABLE IF NOT EXISTS agents (tool TEXT, blob TEXT, name TEXT, digest TEXT, "
            "governed TEXT, seal TEXT, PRIMARY KEY (tool, blob)) WITHOUT ROWID",
        )
        return cls(connection, f"{code_digest()}/digest-v2") if connection else None

    def _none_stored(self) -> bool:
        try:
            return (
                self.connection.execute("SELECT 1 FROM agents WHERE tool = ? LIMIT 1", (self.key,)).fetchone()
                is None
            )
        except failures():
            self.broken = True
            return True

    def _row(self, blob: str) -> tuple[str, str, str] | None:
        """The sealed row of a blob, or None (a miss: absent, damaged, or the cache is off)."""
        pending = self.pending.get(blob)
        if pending is not None:
            return pending[2], pending[3], pending[4]
        if self.broken or self.empty:
            return None
        try:
            raw = self.connection.execute(
                "SELECT name, digest, governed, seal FROM agents WHERE tool = ? AND blob = ?",
                (self.key, blob),
            ).fetchone()
        except failures():
            self.broken = True
            return None
        if raw is None:
            return None
        name, digest, governed, sealed = (cell_text(value) for value in raw)
        if None in (name, digest, governed) or sealed != seal(self.key, blob, name, digest, governed):
            return None
        return str(name), str(digest), str(governed)

    def get(self, blob: str) -> tuple[str, str, dict[str, Any]] | None:
        row = self._row(blob)
        if row is None:
            return None
        try:
            governed = json.loads(row[2])
        except CACHE_ERRORS:
            return None
        if not (isinstance(row[0], str) and isinstance(row[1], str) and isinstance(governed, dict)):
            return None
        return row[0], row[1], governed

    def put(self, blob: str, name: str, digest: str, data: dict[str, Any], stored: str | None = None) -> None:
        """Keep a blob's row. ``stored``: `storable_text(data)`, worked out elsewhere (the
        parsing helper process) from the same data."""
        text = stored or storable_text(data)
        if text is None:
            return
        self.pending[blob] = (self.key, blob, name, digest, text, seal(self.key, blob, name, digest, text))
        if len(self.pending) >= self.FLUSH_EVERY:
            self._write()

    def _write(self) -> None:
        """Write the pending rows in one transaction; a locked or broken cache only loses them."""
        rows, self.pending = list(self.pending.values()), {}
        if self.broken:
            return
        try:
            with self.connection:
                self.connection.executemany("INSERT OR REPLACE INTO agents VALUES (?, ?, ?, ?, ?, ?)", rows)
        except failures():
            self.broken = True

    def close(self) -> None:
        self._write()
        with contextlib.suppress(*failures()):
            self.connection.close()
