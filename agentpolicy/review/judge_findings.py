"""How the judge words what it refuses or warns about: one finding per reason, with its fix.

The judge (`review/judge.py`) decides; this module only turns a decision it has
made into a `Finding` a person can act on (which entry, why it does not count,
the command that fixes it). Nothing here counts an approval.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from agentpolicy.model.changes import BOUNDARY, EXPANDED, NARROWED, RETIRED, STAGE, VERSION, AgentChange
from agentpolicy.model.document import ERROR, WARNING, Finding
from agentpolicy.review.entries import ReviewEntry, signed_time

if TYPE_CHECKING:  # the judge's own types; it imports this module, so only for the type checker
    from agentpolicy.review.judge import Floor, Subject, Verdict

RULE_NEEDS_REVIEW = "AP201"
RULE_BUMP_VERSION = "AP202"
RULE_REJECTED = "AP203"
RULE_SELF_APPROVAL = "AP205"
RULE_MISMATCH = "AP206"
RULE_REPLAYED = "AP208"
RULE_BREAK_GLASS = "AP211"


def superseded(finding: Finding, subject: Subject) -> Finding:
    """An entry for other content, in a change whose current content is approved, is only a record.

    Review iterations in a pull request leave entries behind (1.4.1 reviewed, then 1.4.2
    pushed and reviewed again): they do not count, and nobody should have to delete a
    signed entry to land the change, so they are warned about, not refused.
    """
    if finding.rule != RULE_MISMATCH or finding.severity != ERROR:
        return finding
    return replace(
        finding,
        severity=WARNING,
        message=f"{finding.message}; it does not count, and {subject.name} {subject.version} is approved "
        "by other entries, so it stays only as a record",
        hint="nothing to do: keep it as the record of an earlier review round, or delete it before merging",
    )


def version_bump_problem(change: AgentChange, *, locate: bool = True) -> Finding | None:
    """A boundary, stage or retirement change must come with a new version."""
    if change.before is None or change.after is None or VERSION in change.kinds:
        return None
    what = [kind for kind in change.kinds if kind in (EXPANDED, NARROWED, BOUNDARY, STAGE, RETIRED)]
    if not what:
        return None
    version = change.after.version or "?"
    return Finding(
        change.after.path,
        *(change.after.document.position(("version",)) if locate else (1, 1)),
        RULE_BUMP_VERSION,
        ERROR,
        f"{change.name}: {describe_kinds(what)} without a version bump (still {version})",
        "bump `version` (e.g. the minor for a boundary change), then ask for a review of it",
        agent=change.name,
    )


def entry_finding(entry: ReviewEntry, rule: str, message: str, subject: Subject) -> Finding:
    """A refused entry, at the entry's file, with what to ask for instead."""
    hint = f"ask for a review of the current content: {subject.approve_command}"
    if rule == RULE_SELF_APPROVAL:
        hint = (
            f"ask someone who did not author the change to run: {subject.approve_command}; working alone, "
            "set `allow_self_approval: true` in .agentpolicy.yaml (what `agentpolicy init --solo` writes), "
            "a trust-root change approved like any other"
        )
    return Finding(entry.path, 1, 1, rule, ERROR, message, hint, agent=subject.name)


def other_content(entry: ReviewEntry, subject: Subject) -> Finding:
    """An entry this change adds for another version or digest of the subject."""
    return entry_finding(entry, RULE_MISMATCH, mismatch_message(subject, entry), subject)


def wrong_decision(entry: ReviewEntry, subject: Subject) -> Finding:
    """An entry this change adds whose decision (e.g. `retire`) is not one the change needs."""
    return entry_finding(
        entry,
        RULE_MISMATCH,
        f"entry decides {entry.decision!r}, but this change needs {' or '.join(sorted(subject.decisions))}",
        subject,
    )


def self_approval(entry: ReviewEntry, subject: Subject) -> Finding:
    """An approval by one of the change's authors or committers (separation of duties)."""
    return entry_finding(
        entry,
        RULE_SELF_APPROVAL,
        f"{entry.reviewer} authored this change to {subject.name} and cannot approve it "
        "(separation of duties: the signing key is allowed for an author or committer)",
        subject,
    )


def rejected(entry: ReviewEntry, subject: Subject) -> Finding:
    """A valid `reject` of exactly this content, at the subject's position."""
    path, line, column = subject.where
    return Finding(
        path,
        line,
        column,
        RULE_REJECTED,
        ERROR,
        f"{subject.name} {subject.version}: rejected by {entry.reviewer} ({entry.path})",
        "address the reviewer's note, change it and ask for a new review",
        agent=subject.name,
    )


def break_glass_used(entry: ReviewEntry, subject: Subject) -> Finding:
    """The loud warning of a change that passed on one emergency entry."""
    path, line, column = subject.where
    return Finding(
        path,
        line,
        column,
        RULE_BREAK_GLASS,
        WARNING,
        f"BREAK-GLASS: {subject.headline} passes on an emergency entry by {entry.reviewer} "
        f"({entry.path}), reason: {entry.data.get('note', '')!r}",
        f"regular approvals of this same content must follow: {subject.approve_command} "
        "(`agentpolicy audit --strict` fails once break_glass.follow_up_days have passed without them)",
        agent=subject.name,
    )


def break_glass_refused(entry: ReviewEntry, subject: Subject) -> Finding:
    """A break-glass entry where the judging configuration does not allow break-glass."""
    return entry_finding(
        entry,
        RULE_BREAK_GLASS,
        f"break-glass entry by {entry.reviewer} does not count: the configuration that judges this change "
        "does not allow break-glass",
        subject,
    )


def signature_problem(entry: ReviewEntry, verdict: Verdict) -> Finding:
    """What the verifier says about an entry's signature: an error, or a warning on one that counts."""
    severity = WARNING if verdict.ok else ERROR
    return Finding(entry.path, 1, 1, verdict.rule, severity, verdict.message, verdict.hint, agent=entry.agent)


def replayed(entry: ReviewEntry, subject: Subject, floor: Floor) -> Finding:
    """A validly signed entry that is not newer than what the before side holds (consumed, copied)."""
    if floor.time is None or signed_time(entry) is None:
        why = f"its timestamp {entry.timestamp!r} is not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ"
    else:
        why = (
            f"it was signed at {entry.timestamp}, not after the latest review already recorded for "
            f"{subject.name} ({floor.time:%Y-%m-%dT%H:%M:%SZ}): an approval is consumed by the change it "
            "approved, so earlier content (a revert, a re-created agent) needs a new one"
        )
    return Finding(
        entry.path,
        1,
        1,
        RULE_REPLAYED,
        ERROR,
        f"review entry does not count for {subject.name} {subject.version}: {why}",
        f"ask for a new review of this content: {subject.approve_command}",
        agent=subject.name,
    )


def needs_review(
    subject: Subject, counted: list[ReviewEntry], other: list[ReviewEntry], consumed: list[ReviewEntry]
) -> Finding:
    """Too few approvals: how many were found, and why the near misses do not count."""
    names = sorted(entry.reviewer_email.lower() for entry in counted)
    found = "found none" if not counted else f"found {len(counted)} ({', '.join(names)})"
    plural = "entry" if subject.required == 1 else "entries"
    message = (
        f"{subject.headline}; needs {subject.required} approving review {plural} for this content; {found}"
    )
    if other:
        latest = other[-1]
        message += f"; {latest.path} is for version {latest.version} with other content, so it does not count"
    if consumed:
        message += (
            f"; {consumed[-1].path} approved this same content earlier and was consumed by that change "
            "(returning to earlier content, or re-creating a retired agent, needs a new approval)"
        )
    path, line, column = subject.where
    return Finding(
        path,
        line,
        column,
        subject.rule,
        ERROR,
        message,
        f"Ask a reviewer to run: {subject.approve_command}  (it records a signed entry for exactly "
        "this content; commit that entry with the change)",
        agent=subject.name,
    )


def mismatch_message(subject: Subject, entry: ReviewEntry) -> str:
    if entry.version != subject.version:
        why = f"it is for version {entry.version}, but {subject.name} is now {subject.version}"
    else:
        why = (
            f"it approves other content of version {subject.version} (digest {entry.digest[:19]}...); "
            "the agent was edited after the review"
        )
    return f"review entry does not match {subject.name}: {why}"


def describe_kinds(kinds: Iterable[str]) -> str:
    return ", ".join(kind.replace("-", " ") for kind in kinds)
