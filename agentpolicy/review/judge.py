"""The one judge: is this governed change approved? Every command asks here, nothing else counts.

`check` (every mode), `audit` and `status` hand the judge the same things: the
subject (an agent's new content, or a new trust root), the review entries of
the after side, the latest signed time among the before side's entries for
that subject, a key verifier built from the before side's trust root (and the
target branch's tip), the people who authored the change, and whether the
before side's configuration allows self-approval. Because they share this
function, they cannot disagree about a verdict.

Rules, in one place:
- an entry counts only for exactly this content (digest) and a decision the
  change needs; a valid `reject` for this content blocks it;
- an approval is consumed by the change it approved: an entry counts only if it
  was signed after every entry the before side already holds for the subject,
  so earlier content (a revert, a re-created agent) needs a new approval;
- approvals are counted per distinct signing key, never per e-mail string;
- separation of duties compares every principal the signing key is allowed for
  (and the entry's reviewer) with the change's authors and committers;
- a boundary or stage change without a version bump cannot be approved.

How each refusal is worded lives in `judge_findings`; every decision stays here.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from agentpolicy.model.changes import AgentChange
from agentpolicy.model.document import Finding
from agentpolicy.review.entries import ReviewEntry, signed_time
from agentpolicy.review.judge_findings import (
    RULE_NEEDS_REVIEW,
    break_glass_refused,
    break_glass_used,
    describe_kinds,
    needs_review,
    other_content,
    rejected,
    replayed,
    self_approval,
    signature_problem,
    superseded,
    version_bump_problem,
    wrong_decision,
)
from agentpolicy.rules.config import Config

BREAK_GLASS = "break-glass"


@dataclass(frozen=True)
class Verdict:
    """Whether an entry's signature counts; a message on a counting entry is a warning.

    ``key`` identifies the signing key (its public key blob; for a certificate the
    certified key), so one key counts once whatever addresses it is listed for;
    ``principals`` are every principal pattern that key is allowed for.
    """

    ok: bool
    rule: str = ""
    message: str = ""
    hint: str = ""
    key: bytes | None = None
    principals: tuple[str, ...] = ()


Verifier = Callable[[ReviewEntry], Verdict]
AuthorsOf = Callable[[set[str]], set[str]]


@dataclass
class Subject:
    """What reviewers approve: one agent's new content, or a new trust root."""

    name: str
    digest: str
    version: str
    headline: str
    decisions: set[str]
    required: int
    paths: set[str]
    where: tuple[str, int, int]
    rule: str = RULE_NEEDS_REVIEW
    approve_command: str = ""
    blockers: list[Finding] = field(default_factory=list)  # problems no approval can fix


@dataclass
class Judgement:
    subject: Subject
    approved: bool
    counted: list[ReviewEntry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    via: str = "reviews"  # or "break-glass": passed on one emergency entry, regular approvals to follow

    @property
    def reviewers(self) -> list[str]:
        return sorted(entry.reviewer for entry in self.counted)


@dataclass(frozen=True)
class Floor:
    """What the before side already holds for a subject: an entry must be newer to count.

    ``time`` is the latest signed time among those entries; an entry signed in that
    same second still counts unless it *is* one of them (same signed payload), so a
    copied old entry never counts and a fresh one made within the second does.
    """

    time: dt.datetime | None = None
    at_time: tuple[ReviewEntry, ...] = ()  # the entries signed at ``time``

    @functools.cached_property
    def seen(self) -> frozenset[bytes]:
        """The signed bytes of the entries at ``time``: worked out only when an entry signed in
        that same second asks (each costs a canonical JSON encoding)."""
        return frozenset(entry.payload() for entry in self.at_time)

    def admits(self, entry: ReviewEntry) -> bool:
        when = signed_time(entry)
        if when is None:
            return False
        if self.time is None or when > self.time:
            return True
        if when != self.time or any(entry is held for held in self.at_time):
            return False  # older, or one of the very entries that set the floor
        return entry.payload() not in self.seen


def approval_floor(
    entries: Iterable[ReviewEntry], now: dt.datetime | None = None, verify: Verifier | None = None
) -> Floor:
    """The floor set by the entries the before side already holds for a subject.

    An entry dated after ``now`` sets the floor only if its signature is valid: otherwise
    anyone could freeze an agent's approvals with one unsigned entry dated far ahead.
    """
    clock = now or dt.datetime.now(dt.UTC)
    held = []
    for entry in entries:
        time = signed_time(entry)
        if time is None:
            continue
        if time > clock and (verify is None or not verify(entry).ok):
            continue
        held.append((time, entry))
    if not held:
        return Floor()
    latest = max(time for time, _ in held)
    return Floor(latest, tuple(entry for time, entry in held if time == latest))


def judge(
    subject: Subject,
    entries: Sequence[ReviewEntry],
    *,
    floor: Floor,
    verify: Verifier,
    authors: set[str],
    allow_self_approval: bool,
    added: set[str] | frozenset[str] = frozenset(),
    break_glass: bool = False,
) -> Judgement:
    """Count the valid approvals of exactly this subject; say what is missing or refused.

    ``added`` are the entry paths this change adds: only those get findings of
    their own (older entries were judged when they landed). Approvals are consumed
    by the change they approved; rejections are not: a valid `reject` of exactly
    this content blocks it until the same key approves it later. With ``break_glass``
    (the before side's `break_glass.allowed`), one valid `break-glass` entry by an
    allowed signer, even the author, approves the change, with a loud warning.
    """
    result = Judgement(subject, approved=False, findings=list(subject.blockers))
    people = {email.lower() for email in authors}
    counted: dict[bytes | str, ReviewEntry] = {}
    latest: dict[bytes | str, tuple[dt.datetime, bool, ReviewEntry]] = {}  # key -> its last decision
    elsewhere: list[ReviewEntry] = []  # entries for other content of the subject
    consumed: list[ReviewEntry] = []
    contested = any(e.digest == subject.digest and e.decision == "reject" for e in entries)
    emergency: list[ReviewEntry] = []
    for entry in entries:
        if entry.digest != subject.digest:
            elsewhere.append(entry)
            if entry.path in added:
                result.findings.append(other_content(entry, subject))
            continue
        glass = entry.decision == BREAK_GLASS and break_glass
        if entry.decision != "reject" and entry.decision not in subject.decisions and not glass:
            if entry.path in added and entry.decision == BREAK_GLASS:
                result.findings.append(break_glass_refused(entry, subject))
            elif entry.path in added:
                result.findings.append(wrong_decision(entry, subject))
            if contested:  # still the key's later word on this content: it lifts its rejection
                _remember(latest, entry, verify(entry))
            continue
        if not floor.admits(entry) and entry.path not in added:
            if entry.decision != "reject":
                consumed.append(entry)
            if contested:  # an older decision still tells whether a rejection stands
                _remember(latest, entry, verify(entry))
            continue
        verdict = verify(entry)
        if verdict.message and (entry.path in added or not verdict.ok):
            result.findings.append(signature_problem(entry, verdict))
        if not verdict.ok:
            continue
        _remember(latest, entry, verdict)
        if entry.decision == "reject":
            continue
        if not floor.admits(entry):  # a copied or back-dated entry: its signature is fine, its time is not
            result.findings.append(replayed(entry, subject, floor))
            continue
        if glass:  # an emergency: the author may be the only one awake
            emergency.append(entry)
            continue
        if not allow_self_approval and _is_author(entry, verdict, people):
            result.findings.append(self_approval(entry, subject))
            continue
        counted.setdefault(_key_of(entry, verdict), entry)
    rejections = [entry for _time, rejects, entry in latest.values() if rejects]
    result.findings.extend(rejected(entry, subject) for entry in rejections)
    result.counted = list(counted.values())
    if len(counted) < subject.required and emergency and not rejections and not subject.blockers:
        result.counted.append(emergency[0])
        result.via = BREAK_GLASS
        result.findings.append(break_glass_used(emergency[0], subject))
    elif len(counted) < subject.required:
        result.findings.append(needs_review(subject, result.counted, elsewhere, consumed))
    result.approved = (
        not rejections and not subject.blockers and (len(counted) >= subject.required or bool(emergency))
    )
    if result.approved:
        result.findings = [superseded(finding, subject) for finding in result.findings]
    return result


def _key_of(entry: ReviewEntry, verdict: Verdict) -> bytes | str:
    """One count per signing key (an unsigned entry, where accepted, by its e-mail)."""
    return verdict.key if verdict.key is not None else entry.reviewer_email.lower()


def _remember(
    latest: dict[bytes | str, tuple[dt.datetime, bool, ReviewEntry]], entry: ReviewEntry, verdict: Verdict
) -> None:
    """Keep each key's last valid decision on this content; at the same second a rejection wins."""
    when = signed_time(entry)
    if not verdict.ok or when is None:
        return
    key = _key_of(entry, verdict)
    rejects = entry.decision == "reject"
    if key not in latest or (when, rejects) > latest[key][:2]:
        latest[key] = (when, rejects, entry)


def _is_author(entry: ReviewEntry, verdict: Verdict, people: set[str]) -> bool:
    """Does the entry's reviewer, or any principal its key may sign as, name an author?"""
    if entry.reviewer_email.lower() in people:
        return True
    for pattern in verdict.principals:
        if pattern.startswith("!"):
            continue
        if any(fnmatchcase(person, pattern.lower()) for person in people):
            return True
    return False


def break_glass_allowed(subject: Subject, config: Config, tip_config: Config | None = None) -> bool:
    """Break-glass is opt-in by the before side (and the target's tip), and for agents only:
    the trust root is never changed in an emergency."""
    if subject.name.startswith("@"):
        return False
    return config.break_glass_allowed and (tip_config is None or tip_config.break_glass_allowed)


def required_approvals(change: AgentChange, config: Config) -> int:
    """The most any applicable source asks for: both sides' files, the config, the packs."""
    counts = [1]
    for state in (change.before, change.after):
        control = state.data.get("change_control") if state else None
        value = control.get("approvals_required") if isinstance(control, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            counts.append(value)
    if change.expands_autonomy and config.autonomy_expansion_approvals:
        counts.append(config.autonomy_expansion_approvals)
    for pack in config.packs:
        for policy in pack.approvals:
            if any(state and policy.applies_to(state.data) for state in (change.before, change.after)):
                if policy.approvals_required:
                    counts.append(policy.approvals_required)
                if change.expands_autonomy and policy.autonomy_expansion:
                    counts.append(policy.autonomy_expansion)
    return max(counts)


def agent_subject(change: AgentChange, config: Config, *, locate: bool = True) -> Subject:
    """The subject a governed agent change asks reviewers to approve.

    ``locate=False`` skips working out line numbers (the audit reports no findings, and
    positions cost a second YAML pass per file)."""
    target = change.after or change.before
    assert target is not None
    before = change.before.version if change.before else None
    after = change.after.version if change.after else None
    head = (
        f"{change.name} {before} -> {after}"
        if before and after and before != after
        else (f"{change.name} {after or before or ''}".rstrip())
    )
    what = describe_kinds(change.kinds)
    if change.details:
        what += f" ({'; '.join(change.details)})"
    # A deletion is bound to content that was approved before: only a new
    # `retire` decision can approve it, or the old approval would replay.
    if change.after is None:
        decisions = {"retire"}
    else:
        decisions = {"approve", "retire"} if change.retires else {"approve"}
    line, column = target.document.position(change.at) if change.at and locate else (1, 1)
    blocker = version_bump_problem(change, locate=locate)
    return Subject(
        name=change.name,
        digest=target.digest,
        version=target.version or "",
        headline=f"{head}: {what}",
        decisions=decisions,
        required=required_approvals(change, config),
        paths={state.path for state in (change.before, change.after) if state is not None},
        where=(target.path, line, column),
        approve_command=f"agentpolicy approve {change.name}",
        blockers=[blocker] if blocker else [],
    )
