"""What the audit reports: events (governed changes and their approvals), reviewers and notes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReviewerRecord:
    name: str
    email: str
    decision: str
    signature: str
    timestamp: str
    commit: str
    path: str
    # What the signature was verified against (for `evidence`; not in the JSON): each trust
    # root's (allowed signers, revoked signers) bytes, and the time the judge verified it at.
    trust: list[tuple[bytes | None, bytes | None]] = field(default_factory=list, repr=False)
    verified_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items() if key not in ("trust", "verified_at")}


@dataclass
class AuditEvent:
    agent: str
    event: str
    kinds: list[str]
    version: str | None
    digest: str
    commit: str
    date: str
    author: str
    path: str
    details: list[str] = field(default_factory=list)
    approvals_required: int = 1
    approved: bool = False
    approved_later_in: str | None = None
    reviewers: list[ReviewerRecord] = field(default_factory=list)
    deleted: bool = False
    side_branch: bool = False
    approved_via: str | None = None  # "reviews", or "break-glass" (issue 17)
    follow_up_due: str | None = None  # break-glass: regular approvals due by then (YYYY-MM-DD)
    followed_up_in: str | None = None  # the commit whose entries gave those regular approvals
    last_approved: str | None = None  # the newest approval of this content (re-attestation restarts it)
    reattested_in: list[str] = field(default_factory=list)  # commits that re-approved unchanged content

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "event": self.event,
            "kinds": self.kinds,
            "version": self.version,
            "digest": self.digest,
            "commit": self.commit,
            "date": self.date,
            "author": self.author,
            "file": self.path,
            "details": self.details,
            "approved": self.approved,
            "approved_later_in": self.approved_later_in,
            "approvals_required": self.approvals_required,
            "reviewers": [reviewer.to_json() for reviewer in self.reviewers],
            "side_branch": self.side_branch,
            "approved_via": self.approved_via,
            "follow_up_due": self.follow_up_due,
            "followed_up_in": self.followed_up_in,
            "last_approved": self.last_approved,
            "reattested_in": self.reattested_in,
        }

    def follow_up_overdue(self, today: str) -> bool:
        """A break-glass approval whose regular approvals did not come by the due day."""
        return bool(self.follow_up_due) and self.followed_up_in is None and today > str(self.follow_up_due)


@dataclass
class AuditNote:
    commit: str
    message: str


@dataclass
class AuditResult:
    events: Sequence[AuditEvent]  # a list, or read back from the audit's spool (app/audit_stream)
    notes: list[AuditNote]
    commits_walked: int
    latest: dict[str, AuditEvent] | None = None  # each agent's last event: what status reports
    history_cut: bool = False  # a shallow clone: the audit cannot vouch for what came before
    as_of: dt.datetime | None = None  # the audit's clock for deadlines (default: now)

    def count_unapproved(self) -> int:
        """How many events are unapproved (a spool counted them as it wrote them)."""
        counted = getattr(self.events, "unapproved", None)
        return counted if isinstance(counted, int) else sum(1 for event in self.events if not event.approved)

    def any_overdue(self) -> bool:
        """Whether a break-glass follow-up is overdue (at the audit's clock)."""
        counted = getattr(self.events, "overdue", None)
        return counted > 0 if isinstance(counted, int) else bool(self.follow_ups_overdue)

    @property
    def unapproved(self) -> list[AuditEvent]:
        return [event for event in self.events if not event.approved]

    @property
    def follow_ups_overdue(self) -> list[AuditEvent]:
        """Break-glass approvals whose regular approvals did not come in time (at the audit's clock)."""
        today = f"{(self.as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC):%Y-%m-%d}"
        return [event for event in self.events if event.follow_up_overdue(today)]
