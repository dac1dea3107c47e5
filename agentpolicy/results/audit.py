"""What the audit reports: events (governed changes and their approvals), reviewers and notes."""

from __future__ import annotations

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

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


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
        }


@dataclass
class AuditNote:
    commit: str
    message: str


@dataclass
class AuditResult:
    events: list[AuditEvent]
    notes: list[AuditNote]
    commits_walked: int
    latest: dict[str, AuditEvent] | None = None  # each agent's last event: what status reports
    history_cut: bool = False  # a shallow clone: the audit cannot vouch for what came before

    @property
    def unapproved(self) -> list[AuditEvent]:
        return [event for event in self.events if not event.approved]
