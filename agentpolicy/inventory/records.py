"""What a worker hands back for one repository: plain, picklable values, one per database row.

Text that came from a repository goes into the database as it is, with two
exceptions both databases need: a NUL character (PostgreSQL's text cannot hold
one) and a lone surrogate (an undecodable byte of a file name, which neither
driver can encode) are written as the visible escapes ``\\x00`` and ``\\xff``.
Everything else is neutralised only when it is printed (``render``, ``page``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Outcomes of one repository in one run
READ = "read"  # scanned now (head or configuration changed, or never seen)
UNCHANGED = "unchanged"  # skipped: same fingerprint as the last complete scan
FAILED = "failed"  # could not be read: recorded with its error

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    point = ord(match.group(0))
    if point == 0:
        return "\\x00"
    return f"\\x{point - 0xDC00:02x}" if 0xDC80 <= point <= 0xDCFF else f"\\u{point:04x}"


def storable(text: str) -> str:
    """``text`` as both SQLite and PostgreSQL can store it (see the module docstring)."""
    if text.isprintable() or not _UNSTORABLE.search(text):
        return text
    return _UNSTORABLE.sub(_escape, text)


@dataclass(frozen=True)
class AgentRecord:
    """One agent at the scanned revision, with the judge's verdict (via `status`)."""

    name: str
    path: str
    version: str
    stage: str
    owner_name: str
    owner_email: str
    approved: bool
    approvers: tuple[str, ...]
    review_due: str | None
    open_gaps: tuple[str, ...]
    errors: int


@dataclass(frozen=True)
class ChangeRecord:
    """One governed change in the scanned revision's history, as the audit judged it."""

    agent: str
    event: str
    version: str | None
    commit: str
    date: str
    author: str
    approved: bool
    approved_later_in: str | None
    path: str
    side_branch: bool


@dataclass
class RepositoryScan:
    """The outcome for one repository: READ with its rows, UNCHANGED, or FAILED with why."""

    key: bytes  # the repository's real path, as bytes: its identity in the database
    path: str  # the same path for people (undecodable bytes as \\xNN)
    outcome: str
    rev: str = ""
    head_commit: str | None = None
    fingerprint: str | None = None
    error: str | None = None
    agents: list[AgentRecord] = field(default_factory=list)
    changes: list[ChangeRecord] = field(default_factory=list)
