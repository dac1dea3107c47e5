"""Writing scans into the inventory database, and reading the inventory back out.

The run's one writer records each repository as its scan arrives, all inside
the run's one transaction (`Database.transaction`): a run that is interrupted
(killed, out of memory, a lost connection) changes nothing, and readers see the
previous complete state until the run commits.

Rows read back are hostile input like any file: a value of an unexpected type
or an undecodable list is shown as text, never trusted as structure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agentpolicy.inventory.database import Database
from agentpolicy.inventory.records import FAILED, READ, UNCHANGED, RepositoryScan

_UPSERT = (
    "INSERT INTO repositories (path, path_bytes, rev, head_commit, fingerprint, status, error, scanned_at,"
    " checked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path_bytes) DO UPDATE SET"
    " path = excluded.path, rev = excluded.rev, head_commit = excluded.head_commit,"
    " fingerprint = excluded.fingerprint, status = excluded.status, error = excluded.error,"
    " scanned_at = excluded.scanned_at, checked_at = excluded.checked_at RETURNING id"
)
_INSERT_AGENT = (
    "INSERT INTO agents (repository_id, name, path, version, stage, owner_name, owner_email, approved,"
    " approvals, approvers, open_gaps, errors, review_due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_CHANGE = (
    "INSERT INTO changes (repository_id, seq, agent, event, version, commit_id, date, author, approved,"
    " approved_later_in, path, side_branch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def previous_fingerprints(database: Database) -> dict[bytes, str]:
    """The fingerprint of each repository's last complete scan (a failed one has none)."""
    rows = database.execute("SELECT path_bytes, fingerprint FROM repositories WHERE status = 'ok'")
    return {_bytes(key): value for key, value in rows if isinstance(value, str)}


def record_scan(database: Database, scan: RepositoryScan, now: str) -> None:
    """Replace what the database holds for this repository by its scan (inside the run's transaction)."""
    if scan.outcome == UNCHANGED:
        database.execute("UPDATE repositories SET checked_at = ? WHERE path_bytes = ?", (now, scan.key))
        return
    status = "ok" if scan.outcome == READ else "failed"
    assert scan.outcome in (READ, FAILED)
    head = scan.head_commit if status == "ok" else None
    fingerprint = scan.fingerprint if status == "ok" else None
    (repository_id,) = database.execute(
        _UPSERT, (scan.path, scan.key, scan.rev, head, fingerprint, status, scan.error, now, now)
    )[0]
    database.execute("DELETE FROM agents WHERE repository_id = ?", (repository_id,))
    database.execute("DELETE FROM changes WHERE repository_id = ?", (repository_id,))
    database.execute_many(
        _INSERT_AGENT,
        [
            (
                repository_id,
                a.name,
                a.path,
                a.version,
                a.stage,
                a.owner_name,
                a.owner_email,
                a.approved,
                len(a.approvers),
                json.dumps(list(a.approvers), ensure_ascii=False),
                json.dumps(list(a.open_gaps), ensure_ascii=False),
                a.errors,
                a.review_due,
            )
            for a in scan.agents
        ],
    )
    database.execute_many(
        _INSERT_CHANGE,
        [
            (
                repository_id,
                seq,
                c.agent,
                c.event,
                c.version,
                c.commit,
                c.date,
                c.author,
                c.approved,
                c.approved_later_in,
                c.path,
                c.side_branch,
            )
            for seq, c in enumerate(scan.changes, 1)
        ],
    )


@dataclass(frozen=True)
class RepositoryRow:
    path: str
    rev: str
    head_commit: str | None
    status: str
    error: str | None
    scanned_at: str
    checked_at: str
    agents: int

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class AgentRow:
    repository: str
    name: str
    path: str
    version: str
    stage: str
    owner_name: str
    owner_email: str
    approved: bool
    approvals: int
    approvers: list[str]
    review_due: str | None
    open_gaps: list[str]
    errors: int
    unapproved_changes: int

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


def read_inventory(database: Database, keys: list[bytes]) -> tuple[list[RepositoryRow], list[AgentRow]]:
    """The stored rows of these repositories, sorted by repository path and agent name."""
    wanted = set(keys)
    repositories: dict[Any, tuple[Any, ...]] = {}
    for row in database.execute(
        "SELECT id, path_bytes, path, rev, head_commit, status, error, scanned_at, checked_at"
        " FROM repositories"
    ):
        if _bytes(row[1]) in wanted:
            repositories[row[0]] = row
    unapproved: dict[tuple[Any, str], int] = {}
    for repository_id, agent, count in database.execute(
        "SELECT repository_id, agent, COUNT(*) FROM changes WHERE approved = ? GROUP BY repository_id, agent",
        (False,),
    ):
        unapproved[(repository_id, _text(agent))] = int(count)
    agents: list[AgentRow] = []
    counts: dict[Any, int] = {}
    for row in database.execute(
        "SELECT repository_id, name, path, version, stage, owner_name, owner_email, approved, approvals,"
        " approvers, review_due, open_gaps, errors FROM agents"
    ):
        owner = repositories.get(row[0])
        if owner is None:
            continue
        counts[row[0]] = counts.get(row[0], 0) + 1
        agents.append(
            AgentRow(
                repository=_text(owner[2]),
                name=_text(row[1]),
                path=_text(row[2]),
                version=_text(row[3]),
                stage=_text(row[4]),
                owner_name=_text(row[5]),
                owner_email=_text(row[6]),
                approved=row[7] is True or row[7] == 1,
                approvals=_number(row[8]),
                approvers=_text_list(row[9]),
                review_due=_text(row[10]) if row[10] is not None else None,
                open_gaps=_text_list(row[11]),
                errors=_number(row[12]),
                unapproved_changes=unapproved.get((row[0], _text(row[1])), 0),
            )
        )
    board = [
        RepositoryRow(
            path=_text(row[2]),
            rev=_text(row[3]),
            head_commit=_text(row[4]) if row[4] is not None else None,
            status=_text(row[5]),
            error=_text(row[6]) if row[6] is not None else None,
            scanned_at=_text(row[7]),
            checked_at=_text(row[8]),
            agents=counts.get(row[0], 0),
        )
        for row in repositories.values()
    ]
    board.sort(key=lambda r: r.path)
    agents.sort(key=lambda a: (a.repository, a.name, a.path))
    return board, agents


def _bytes(value: Any) -> bytes:
    """A stored path's bytes; a value of another type (a hand-edited SQLite row) matches no path."""
    return bytes(value) if isinstance(value, bytes | bytearray | memoryview) else b""


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    return "" if value is None else str(value)


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text_list(value: Any) -> list[str]:
    """A JSON list of strings, as the writer stores it; anything else is shown as one string."""
    try:
        items = json.loads(_text(value))
    except ValueError:
        return [_text(value)]
    if isinstance(items, list) and all(isinstance(item, str) for item in items):
        return items
    return [_text(value)]
