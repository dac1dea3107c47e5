"""Each agent's approved boundary over time, from the audit's verdicts (it never judges an approval).

An agent's boundary at time T is its governed content at the last first-parent
commit at or before T whose change was approved. A change that was approved
later (by an entry that landed in a later commit) takes effect when that
approval landed. Times are committer dates, kept from running backwards as
the audit's own clock does.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from agentpolicy.errors import GitError
from agentpolicy.runtime.boundary import Approval, Boundary

_NOT_CHANGES = ("duplicate-definition", "unreadable", "trust-root-changed")
_EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class NotYet:
    """The agent exists in history but had no approved boundary at that time."""


NOT_YET = NotYet()


@dataclass
class Timeline:
    """One agent's approved states, oldest first; None stands for an approved deletion."""

    since: list[dt.datetime] = field(default_factory=list)
    states: list[Boundary | None] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    versions: dict[str, dt.datetime] = field(default_factory=dict)  # version -> first approved at

    def add(self, when: dt.datetime, state: Boundary | None, commit: str) -> None:
        if self.since and when < self.since[-1]:
            when = self.since[-1]  # a commit dated before its ancestor counts from the ancestor's time
        self.since.append(when)
        self.states.append(state)
        self.commits.append(commit)
        if state is not None:
            self.versions.setdefault(state.version, when)

    def at(self, when: dt.datetime) -> tuple[Boundary | NotYet | None, str]:
        """The state in force at ``when`` and the commit that approved it."""
        index = bisect.bisect_right(self.since, when) - 1
        if index < 0:
            return NOT_YET, ""
        return self.states[index], self.commits[index]

    def version_approved_by(self, version: str, when: dt.datetime) -> bool:
        first = self.versions.get(version)
        return first is not None and first <= when

    @property
    def first_approved(self) -> dt.datetime | None:
        return self.since[0] if self.since else None


@dataclass
class Timelines:
    agents: dict[str, Timeline]
    commit: str  # the resolved revision whose history was replayed


def build_timelines(start: str, rev: str) -> Timelines:
    """Replay ``rev``'s first-parent history once (the audit) and keep each agent's approved states."""
    from agentpolicy.app.audit import AuditRequest, run_audit
    from agentpolicy.git.repo import Repo
    from agentpolicy.review.trustroot import TRUST_ROOT

    if ".." in rev:
        raise GitError(
            f"{rev!r} is a range; conformance replays one branch", "pass one revision, e.g. --rev main"
        )
    repo = Repo(start)
    if not repo.has_head and rev == "HEAD":
        return Timelines({}, "")
    commit = repo.resolve(rev)
    audit = run_audit(AuditRequest(rev=commit, start=start))
    if audit.history_cut:
        raise GitError(
            "this clone is shallow: the boundaries approved before its cut are unknown",
            "fetch the full history (git fetch --unshallow, or fetch-depth: 0 in CI)",
        )
    agents: dict[str, Timeline] = {}
    for event in audit.events:
        if event.agent == TRUST_ROOT or event.event in _NOT_CHANGES or event.event.startswith("review-entry"):
            continue
        timeline = agents.setdefault(event.agent, Timeline())
        if not event.approved:
            continue
        approving = event.approved_later_in or event.commit
        state = None if event.deleted else _state(repo, event)
        timeline.add(_landed(repo, approving), state, approving)
    return Timelines(agents, commit)


def _state(repo: Any, event: Any) -> Boundary | None:
    from agentpolicy.rules.engine import load_agent

    snapshot = repo.revision_snapshot(event.commit, event.commit[:12])
    loaded = load_agent(event.path, snapshot.read(event.path))
    if loaded.document is None or not isinstance(loaded.document.data, dict):
        return None  # cannot happen for an approved change; allow nothing if it does
    approvals = tuple(
        Approval(f"{record.name} <{record.email}>", record.decision, record.timestamp)
        for record in event.reviewers
    )
    return Boundary.from_agent_data(
        loaded.document.data, commit=event.commit, approved=True, approvals=approvals
    )


def _landed(repo: Any, commit_id: str) -> dt.datetime:
    """The committer date: when the commit was made on the branch (the author date may be older)."""
    commit = repo.repo[commit_id]
    try:
        return dt.datetime.fromtimestamp(commit.commit_time, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return _EARLIEST if commit.commit_time < 0 else dt.datetime.max.replace(tzinfo=dt.UTC)
