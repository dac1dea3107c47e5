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
import hashlib
import json
import os
from typing import Any

from agentpolicy.cache.code_key import code_digest as code_digest  # re-exported: its users import it here
from agentpolicy.model.document import Finding

SCHEMA_VERSION = 4
CACHE_ERRORS: tuple[type[Exception], ...] = (
    KeyError,
    ValueError,
    TypeError,
    UnicodeError,
    OverflowError,
    MemoryError,
)


def failures() -> tuple[type[Exception], ...]:
    """Everything a damaged cache can raise while it is read or written (sqlite3 loads lazily)."""
    import sqlite3

    return (OSError, sqlite3.Error, *CACHE_ERRORS)


def seal(*values: str | bytes | None) -> str:
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


def connect(git_dir: str, create: str) -> Any:
    """The cache database in the git directory, or None when it cannot be used right now."""
    import sqlite3

    folder = os.path.join(git_dir, "agentpolicy")
    try:
        os.makedirs(folder, exist_ok=True)
        connection = sqlite3.connect(os.path.join(folder, f"derived-v{SCHEMA_VERSION}.sqlite3"), timeout=0.5)
        connection.text_factory = bytes  # decoded here, where a bad byte is a miss, not an exception
        connection.execute(create)
    except failures():
        return None
    return connection


def _flush(connection: Any, insert: str, rows: list[Any]) -> None:
    """Write the new rows in one transaction; a locked or broken cache only loses them."""

    with contextlib.suppress(*failures()):
        if rows:
            with connection:
                connection.executemany(insert, rows)
        connection.close()


class DerivedCache:
    """Per-blob verdicts (``results``) and, for the hook, whole-tree results (``trees``): the
    agent files of one tree and their verdicts in one sealed row (see ``app/tree_verdicts``)."""

    KEEP_TREES = 4  # newest tree rows kept per scope: enough to derive the next HEAD's

    def __init__(self, connection: Any, policy: str) -> None:
        self.connection = connection
        self.policy = policy
        self.pending: list[tuple[str, str, str | None, str | None, str, str]] = []

    @classmethod
    def open(cls, git_dir: str, policy: str) -> DerivedCache | None:
        connection = connect(
            git_dir,
            "CREATE TABLE IF NOT EXISTS results (policy TEXT, blob TEXT, name TEXT, findings TEXT, "
            "mentions TEXT, seal TEXT, PRIMARY KEY (policy, blob)) WITHOUT ROWID",
        )
        if connection is None:
            return None
        try:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS trees (policy TEXT, scope TEXT, tree TEXT, payload TEXT, "
                "seal TEXT, written INTEGER, PRIMARY KEY (policy, scope, tree)) WITHOUT ROWID"
            )
        except failures():
            _flush(connection, "", [])
            return None
        return cls(connection, policy)

    def get_many(self, blobs: list[str]) -> dict[str, tuple[str | None, list[Finding], bool]]:
        """(name, findings, whether the blob mentions `review_every`) per blob found. A few
        blobs are looked up by key; many in one scan of the policy's rows, where clean files
        (no findings) need no decoding."""
        wanted = set(blobs)
        found: dict[str, tuple[str | None, list[Finding], bool]] = {}
        if not wanted:
            return found
        try:
            if len(wanted) <= 64:
                marks = ", ".join("?" * len(wanted))
                rows = self.connection.execute(
                    "SELECT blob, name, findings, mentions, seal FROM results "
                    f"WHERE policy = ? AND blob IN ({marks})",
                    (self.policy, *sorted(wanted)),
                )
            else:
                rows = self.connection.execute(
                    "SELECT blob, name, findings, mentions, seal FROM results WHERE policy = ?",
                    (self.policy,),
                )
            for raw_blob, raw_name, raw_findings, raw_mentions, raw_seal in rows:
                blob = cell_text(raw_blob)
                if blob not in wanted:
                    continue
                name, findings, mentions = (
                    cell_text(raw_name),
                    cell_text(raw_findings),
                    cell_text(raw_mentions),
                )
                if mentions not in ("0", "1") or cell_text(raw_seal) != seal(
                    self.policy, blob, name, findings, mentions
                ):
                    continue
                decoded = decode_verdict(name, findings)
                if decoded is not None:
                    found[blob] = (*decoded, mentions == "1")
        except failures():
            return {}
        return found

    def put(self, blob: str, name: str | None, findings: list[Finding], mentions: bool) -> None:
        payload = encode_findings(findings)
        flag = "1" if mentions else "0"
        self.pending.append(
            (self.policy, blob, name, payload, flag, seal(self.policy, blob, name, payload, flag))
        )

    def get_tree(self, scope: str, tree: str | None = None) -> tuple[str, str] | None:
        """(tree, payload) of the row for ``tree`` in ``scope``, or of the newest row when
        ``tree`` is None; None when there is none, or it is damaged."""
        query = "SELECT tree, payload, seal FROM trees WHERE policy = ? AND scope = ?"
        try:
            if tree is None:
                raw = self.connection.execute(f"{query} ORDER BY written DESC LIMIT 1", (self.policy, scope))
            else:
                raw = self.connection.execute(f"{query} AND tree = ?", (self.policy, scope, tree))
            row = raw.fetchone()
        except failures():
            return None
        if row is None:
            return None
        found, payload, sealed = (cell_text(value) for value in row)
        if found is None or payload is None or sealed != seal(self.policy, scope, found, payload):
            return None
        return found, payload

    def put_tree(self, scope: str, tree: str, payload: str) -> None:
        """Store a tree's row now (one transaction), keeping the newest ``KEEP_TREES`` of the scope."""
        import time

        row = (self.policy, scope, tree, payload, seal(self.policy, scope, tree, payload), time.time_ns())
        with contextlib.suppress(*failures()), self.connection:
            self.connection.execute("INSERT OR REPLACE INTO trees VALUES (?, ?, ?, ?, ?, ?)", row)
            self.connection.execute(
                "DELETE FROM trees WHERE scope = ? AND tree NOT IN "
                "(SELECT tree FROM trees WHERE scope = ? ORDER BY written DESC LIMIT ?)",
                (scope, scope, self.KEEP_TREES),
            )

    def close(self) -> None:
        _flush(self.connection, "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?)", self.pending)


def encode_findings(findings: list[Finding]) -> str | None:
    """A file's findings as stored (None for a clean file); ``decode_verdict`` reads them back."""
    if not findings:
        return None
    return json.dumps([[f.line, f.column, f.rule, f.severity, f.message, f.hint] for f in findings])


def cell_text(value: Any) -> str | None:
    """A cell as text; anything else (a number, invalid UTF-8) is None, so the row is a miss."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) else None


def decode_verdict(name: Any, payload: Any) -> tuple[str | None, list[Finding]] | None:
    if name is not None and not isinstance(name, str):
        return None
    if payload is None:
        return name, []
    try:
        findings = [
            Finding("", int(line), int(column), str(rule), str(severity), str(message), str(hint), name or "")
            for line, column, rule, severity, message, hint in json.loads(payload)
        ]
    except failures():
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
