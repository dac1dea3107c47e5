"""The events and records the audit's replay writes: what happened at a commit, and who approved it.

The replay decides nothing here: the judge approves, the replay says when. This
module turns each occurrence into the `AuditEvent` the reports show (an agent
change, a trust-root change, a duplicate or unreadable agent file, an edited or
deleted review entry) and fills in an approval's record (reviewers, break-glass
follow-up, re-approval), so every event is worded in one place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from agentpolicy.git.history import CommitStep
from agentpolicy.model.changes import AgentChange, primary_kind
from agentpolicy.results.audit import AuditEvent, ReviewerRecord
from agentpolicy.review.entries import ReviewEntry, signed_time
from agentpolicy.review.judge import Judgement, Subject, Verifier
from agentpolicy.review.trust import TipTrust, TrustRoot
from agentpolicy.review.trustroot import TRUST_ROOT


def stamp(when: dt.datetime) -> str:
    """A time as the audit's JSON writes it: UTC, to the second."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def change_event(step: CommitStep, change: AgentChange, subject: Subject) -> AuditEvent:
    """A governed change to one agent (its new content, or its deletion), not yet approved."""
    target = change.after or change.before
    assert target is not None
    return AuditEvent(
        agent=change.name,
        event=primary_kind(change.kinds),
        kinds=list(change.kinds),
        version=target.version,
        digest=target.digest,
        commit=step.id,
        date=stamp(step.date),
        author=step.author,
        path=target.path,
        details=list(change.details),
        approvals_required=subject.required,
        deleted=change.after is None,
    )


def trust_root_event(step: CommitStep, subject: Subject) -> AuditEvent:
    """A change to the configuration or the signers, judged like an agent change."""
    return AuditEvent(
        agent=TRUST_ROOT,
        event="trust-root-changed",
        kinds=["trust-root-changed"],
        version=subject.version,
        digest=subject.digest,
        commit=step.id,
        date=stamp(step.date),
        author=step.author,
        path=subject.where[0],
        details=[subject.headline],
        approvals_required=subject.required,
    )


def entry_lost(step: CommitStep, path: str, entry: ReviewEntry, how: str) -> tuple[str, AuditEvent]:
    """An edited or deleted review entry (``how``): the note's text, and an event never approved."""
    what = f"review entry {path} ({entry.reviewer}, {entry.agent} {entry.version}) was {how}"
    event = AuditEvent(
        agent=entry.agent,
        event=f"review-entry-{how}",
        kinds=[f"review-entry-{how}"],
        version=entry.version,
        digest=entry.digest,
        commit=step.id,
        date=stamp(step.date),
        author=step.author,
        path=path,
        details=[f"{what}: review entries are append-only evidence"],
    )
    return what, event


def file_problem(step: CommitStep, agent: str, path: str, kind: str, detail: str) -> AuditEvent:
    """A `duplicate-definition` or `unreadable` agent file: an event no approval closes."""
    return AuditEvent(
        agent=agent,
        event=kind,
        kinds=[kind],
        version=None,
        digest="",
        commit=step.id,
        date=stamp(step.date),
        author=step.author,
        path=path,
        details=[detail],
    )


class FileProblems:
    """Duplicate and unreadable agent files, each reported once (not again at every commit)."""

    def __init__(self) -> None:
        self._duplicates: set[tuple[str, str]] = set()
        self._unreadable: dict[str, str] = {}  # path -> the unreadable blob already reported

    def duplicates(self, step: CommitStep, defined: dict[str, list[str]]) -> list[AuditEvent]:
        """Every file past the first that defines an agent (``defined``: agent -> its files)."""
        found = []
        for name, paths in defined.items():
            for path in paths[1:]:
                if (name, path) in self._duplicates:
                    continue
                self._duplicates.add((name, path))
                detail = (
                    f"{path} defines {name} again (first defined in {paths[0]}); tools that "
                    "read it may take either file"
                )
                found.append(file_problem(step, name, path, "duplicate-definition", detail))
        return found

    def unreadable(
        self,
        step: CommitStep | None,
        unreadable: dict[str, str],
        files: dict[str, str],
        defines: Callable[[str], str | None],
    ) -> list[AuditEvent]:
        """An agent file the strict loader refuses is an event that is never approved (a lenient
        tool may still deploy it); reported once per content, when it appears (not at a baseline,
        ``step`` None). ``unreadable`` maps each such path to why; ``defines`` names its agent."""
        for path in [path for path in self._unreadable if path not in unreadable]:
            del self._unreadable[path]
        found = []
        for path, why in sorted(unreadable.items()):
            blob = files.get(path, "")
            if self._unreadable.get(path) == blob:
                continue
            self._unreadable[path] = blob
            if step is None:
                continue
            detail = f"{path} cannot be read as an agent: {why}"
            found.append(file_problem(step, defines(path) or path, path, "unreadable", detail))
        return found


def reviewer_records(
    counted: list[ReviewEntry],
    root: TrustRoot | TipTrust,
    added: dict[str, tuple[ReviewEntry, str]],
    verify: Verifier,
    judged_at: Callable[[str], dt.datetime | None],
) -> list[ReviewerRecord]:
    """Who approved, with what their signatures were verified against and when (for `evidence`)."""
    roots = [root.base, root.tip] if isinstance(root, TipTrust) else [root]
    trust = [(each.allowed, each.revoked) for each in roots if each is not None]
    records = []
    for entry in counted:
        verdict = verify(entry)
        added_in = added.get(entry.path, (entry, ""))[1]
        times = [t for t in (judged_at(added_in), signed_time(entry)) if t]
        at = max(times) if times else None
        records.append(
            ReviewerRecord(
                entry.reviewer_name,
                entry.reviewer_email,
                entry.decision,
                "unsigned (accepted)" if verdict.message else "valid",
                entry.timestamp,
                added_in,
                entry.path,
                trust,
                stamp(at) if at else "",
            )
        )
    return records


def mark_approved(event: AuditEvent, commit: str, judgement: Judgement) -> None:
    """The judge approved ``event`` at ``commit`` (later than the change itself, or with it)."""
    event.approved = True
    event.approved_via = judgement.via
    if commit != event.commit:
        event.approved_later_in = commit


def follow_up_due(clock: dt.datetime, days: int) -> str:
    """The day regular approvals of a break-glass change are due by."""
    return f"{clock + dt.timedelta(days=days):%Y-%m-%d}"


def newest(entries: list[ReviewEntry], clock: dt.datetime | None, before: str | None) -> str | None:
    """The newest signed time among ``entries``, never later than the judge's clock (an entry
    dated ahead cannot push its agent's next review out of sight)."""
    times = [when for when in map(signed_time, entries) if when is not None]
    if not times:
        return before
    latest = min(max(times), clock) if clock else max(times)
    text = stamp(latest)
    return max(text, before) if before else text
