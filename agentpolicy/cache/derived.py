"""A cache of per-file policy results, inside the git directory, keyed by blob id.

Why: the hook runs on every commit, and cross-file rules (unique names) need
every agent; re-parsing 10,000 unchanged files would make the hook's cost
follow the repository instead of the change. A blob id names exact content,
so a result stored under (policy key, blob id) can never be stale: the policy
key covers the code of agentpolicy itself (`code_digest`), the built-in and
configured rules and the teams.

Safe to delete at any time; never trusted beyond its key: every row carries a
seal (a digest of its key and values), a row whose seal does not match or that
does not decode is a miss, and any database or decoding error turns the cache
off for the run, so random damage (a flipped bit in a page, a truncated file,
a locked or unreadable one) can only cost time, never change a verdict. The
seal is no defence against someone who can write `.git` on purpose: they can
compute it too (docs/security.md, "Not defended").
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
from typing import Any

from agentpolicy.model.document import Finding

SCHEMA_VERSION = 3
_CACHE_ERRORS: tuple[type[Exception], ...] = (
    KeyError,
    ValueError,
    TypeError,
    UnicodeError,
    OverflowError,
    MemoryError,
)


def _failures() -> tuple[type[Exception], ...]:
    """Everything a damaged cache can raise while it is read or written (sqlite3 loads lazily)."""
    import sqlite3

    return (OSError, sqlite3.Error, *_CACHE_ERRORS)


def _seal(*values: str | bytes | None) -> str:
    """A digest of a row's key and values: a row damaged anywhere no longer matches it.
    Each value is length-prefixed UTF-8 (None has its own mark), so no two rows share an
    encoding; cheap enough to check 10,000 rows in a hook (a JSON encoding of each was not)."""
    hasher = hashlib.sha256()
    for value in values:
        if value is None:
            hasher.update(b"\xff")
            continue
        data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()[:32]


def _connect(git_dir: str, create: str) -> Any:
    """The cache database in the git directory, or None when it cannot be used right now."""
    import sqlite3

    folder = os.path.join(git_dir, "agentpolicy")
    try:
        os.makedirs(folder, exist_ok=True)
        connection = sqlite3.connect(os.path.join(folder, f"derived-v{SCHEMA_VERSION}.sqlite3"), timeout=0.5)
        connection.text_factory = bytes  # decoded here, where a bad byte is a miss, not an exception
        connection.execute(create)
    except _failures():
        return None
    return connection


def _flush(connection: Any, insert: str, rows: list[Any]) -> None:
    """Write the new rows in one transaction; a locked or broken cache only loses them."""

    with contextlib.suppress(*_failures()):
        if rows:
            with connection:
                connection.executemany(insert, rows)
        connection.close()


class DerivedCache:
    def __init__(self, connection: Any, policy: str) -> None:
        self.connection = connection
        self.policy = policy
        self.pending: list[tuple[str, str, str | None, str | None, str]] = []

    @classmethod
    def open(cls, git_dir: str, policy: str) -> DerivedCache | None:
        connection = _connect(
            git_dir,
            "CREATE TABLE IF NOT EXISTS results (policy TEXT, blob TEXT, name TEXT, findings TEXT, "
            "seal TEXT, PRIMARY KEY (policy, blob)) WITHOUT ROWID",
        )
        return cls(connection, policy) if connection else None

    def get_many(self, blobs: list[str]) -> dict[str, tuple[str | None, list[Finding]]]:
        """One query for the whole policy; clean files (no findings) need no decoding."""

        wanted = set(blobs)
        found: dict[str, tuple[str | None, list[Finding]]] = {}
        try:
            rows = self.connection.execute(
                "SELECT blob, name, findings, seal FROM results WHERE policy = ?", (self.policy,)
            )
            for raw_blob, raw_name, raw_findings, raw_seal in rows:
                blob = _text(raw_blob)
                if blob not in wanted:
                    continue
                name, findings, seal = _text(raw_name), _text(raw_findings), _text(raw_seal)
                if seal != _seal(self.policy, blob, name, findings):
                    continue
                decoded = _decode(name, findings)
                if decoded is not None:
                    found[blob] = decoded
        except _failures():
            return {}
        return found

    def put(self, blob: str, name: str | None, findings: list[Finding]) -> None:
        payload = (
            json.dumps([[f.line, f.column, f.rule, f.severity, f.message, f.hint] for f in findings])
            if findings
            else None
        )
        self.pending.append((self.policy, blob, name, payload, _seal(self.policy, blob, name, payload)))

    def close(self) -> None:
        _flush(self.connection, "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)", self.pending)


@functools.cache
def code_digest() -> str:
    """A digest of the code every cached verdict depends on: the bytes of agentpolicy's own
    source files and built-in pack, and the versions of Python and the schema libraries.

    Why not ``__version__``: an upgrade without a version bump (an editable install, a
    patched wheel) would otherwise keep serving verdicts the new code would not give.
    Computed once per process (~300 KB of files, a few ms) and only when a cache is opened.
    """
    from agentpolicy.model.schemas import builtin_pack

    hasher = hashlib.sha256(sys.version.encode())
    for module, distribution in (("fastjsonschema", "fastjsonschema"), ("jsonschema", "jsonschema")):
        hasher.update(f"|{_installed_version(module, distribution)}".encode())
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # agentpolicy/, not cache/
    sources = sorted(
        os.path.relpath(os.path.join(folder, name), package)
        for folder, _, names in os.walk(package)
        for name in names
        if name.endswith(".py")
    )
    for relative in sources:
        with open(os.path.join(package, relative), "rb") as handle:
            _hash_file(hasher, f"agentpolicy/{relative}", handle.read())
    pack = builtin_pack()
    for folder in ("schemas", "rules"):
        for entry in sorted((pack / folder).iterdir(), key=lambda e: e.name):
            if entry.is_file():
                _hash_file(hasher, f"policies/{folder}/{entry.name}", entry.read_bytes())
    return hasher.hexdigest()


def _installed_version(module: str, distribution: str) -> str:
    """The library's dist-info folder name (it holds the version), found without importing the
    library: importlib.metadata costs ~80 ms, more than the hook's whole budget for this."""
    from importlib.util import find_spec

    spec = find_spec(module)
    if spec is None or spec.origin is None:
        return f"{module}=none"
    site = os.path.dirname(os.path.dirname(spec.origin))
    try:
        found = sorted(
            name
            for name in os.listdir(site)
            if name.lower().startswith(f"{distribution.lower()}-") and name.endswith(".dist-info")
        )
    except OSError:
        found = []
    return ",".join(found) or f"{module}@{spec.origin}"


def _hash_file(hasher: Any, name: str, data: bytes) -> None:
    hasher.update(f"\0{name}\0{len(data)}\0".encode())
    hasher.update(data)


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

    @classmethod
    def open(cls, git_dir: str) -> AgentDigestCache | None:
        connection = _connect(
            git_dir,
            "CREATE TABLE IF NOT EXISTS agents (tool TEXT, blob TEXT, name TEXT, digest TEXT, "
            "governed TEXT, seal TEXT, PRIMARY KEY (tool, blob)) WITHOUT ROWID",
        )
        return cls(connection, f"{code_digest()}/digest-v2") if connection else None

    def _row(self, blob: str) -> tuple[str, str, str] | None:
        """The sealed row of a blob, or None (a miss: absent, damaged, or the cache is off)."""
        pending = self.pending.get(blob)
        if pending is not None:
            return pending[2], pending[3], pending[4]
        if self.broken:
            return None
        try:
            raw = self.connection.execute(
                "SELECT name, digest, governed, seal FROM agents WHERE tool = ? AND blob = ?",
                (self.key, blob),
            ).fetchone()
        except _failures():
            self.broken = True
            return None
        if raw is None:
            return None
        name, digest, governed, seal = (_text(value) for value in raw)
        if None in (name, digest, governed) or seal != _seal(self.key, blob, name, digest, governed):
            return None
        return str(name), str(digest), str(governed)

    def get(self, blob: str) -> tuple[str, str, dict[str, Any]] | None:
        row = self._row(blob)
        if row is None:
            return None
        try:
            governed = json.loads(row[2])
        except _CACHE_ERRORS:
            return None
        if not (isinstance(row[0], str) and isinstance(row[1], str) and isinstance(governed, dict)):
            return None
        return row[0], row[1], governed

    def put(self, blob: str, name: str, digest: str, data: dict[str, Any]) -> None:
        try:
            text = json.dumps(data, sort_keys=True)
        except (TypeError, ValueError):
            return  # not plain JSON: it would not read back the same, so it is not cached
        if json.loads(text) != data:
            return
        self.pending[blob] = (self.key, blob, name, digest, text, _seal(self.key, blob, name, digest, text))
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
        except _failures():
            self.broken = True

    def close(self) -> None:
        self._write()
        with contextlib.suppress(*_failures()):
            self.connection.close()


def _text(value: Any) -> str | None:
    """A cell as text; anything else (a number, invalid UTF-8) is None, so the row is a miss."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) else None


def _decode(name: Any, payload: Any) -> tuple[str | None, list[Finding]] | None:
    if name is not None and not isinstance(name, str):
        return None
    if payload is None:
        return name, []
    try:
        findings = [
            Finding("", int(line), int(column), str(rule), str(severity), str(message), str(hint), name or "")
            for line, column, rule, severity, message, hint in json.loads(payload)
        ]
    except _failures():
        return None
    return name, findings


def policy_key(config: Any) -> str:
    """Everything a per-file result depends on besides the file's own bytes."""
    from agentpolicy.model.schemas import schema_text
    from agentpolicy.rules.declarative import builtin_declarative_rules

    rules = [*builtin_declarative_rules(), *config.pack_rules]
    material = json.dumps(
        {
            "code": code_digest(),
            "schema": schema_text("agent"),
            "teams": sorted(config.teams),
            "rules": [
                [
                    r.info.id,
                    r.info.severity,
                    r.info.message,
                    r.info.hint,
                    r.when,
                    r.require,
                    r.severity_by_stage,
                    list(r.at),
                ]
                for r in rules
            ],
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(material.encode()).hexdigest()
