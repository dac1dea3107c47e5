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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase

from agentpolicy.model.changes import BOUNDARY, EXPANDED, NARROWED, RETIRED, STAGE, VERSION, AgentChange
from agentpolicy.model.document import ERROR, WARNING, Finding
from agentpolicy.review.entries import ReviewEntry
from agentpolicy.rules.config import Config

RULE_NEEDS_REVIEW = "AP201"
RULE_BUMP_VERSION = "AP202"
RULE_REJECTED = "AP203"
RULE_SELF_APPROVAL = "AP205"
RULE_MISMATCH = "AP206"
RULE_REPLAYED = "AP208"
RULE_BREAK_GLASS = "AP211"
BREAK_GLASS = "break-glass"

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


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


def signed_time(entry: ReviewEntry) -> dt.datetime | None:
    """The entry's signed timestamp, or None when it is not exactly YYYY-MM-DDTHH:MM:SSZ."""
    text = entry.timestamp
    try:
        parsed = dt.datetime.strptime(text, _TIME_FORMAT)
    except ValueError:
        return None
    if parsed.strftime(_TIME_FORMAT) != text:
        return None
    return parsed.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Floor:
    """What the before side already holds for a subject: an entry must be newer to count.

    ``time`` is the latest signed time among those entries; an entry signed in that
    same second still counts unless it *is* one of them (same signed payload), so a
    copied old entry never counts and a fresh one made within the second does.
    """

    time: dt.datetime | None = None
    seen: frozenset[bytes] = frozenset()

    def admits(self, entry: ReviewEntry) -> bool:
        when = signed_time(entry)
        if when is None:
            return False
        if self.time is None or when > self.time:
            return True
        return when == self.time and entry.payload() not in self.seen


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
    return Floor(latest, frozenset(entry.payload() for time, entry in held if time == latest))


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
    other_content: list[ReviewEntry] = []
    consumed: list[ReviewEntry] = []
    contested = any(e.digest == subject.digest and e.decision == "reject" for e in entries)
    emergency: list[ReviewEntry] = []
    for entry in entries:
        if entry.digest != subject.digest:
            other_content.append(entry)
            if entry.path in added:
                result.findings.append(
                    _entry_finding(entry, RULE_MISMATCH, _mismatch(subject, entry), subject)
                )
            continue
        glass = entry.decision == BREAK_GLASS and break_glass
        if entry.decision != "reject" and entry.decision not in subject.decisions and not glass:
            if entry.path in added and entry.decision == BREAK_GLASS:
                result.findings.append(_glass_refused(entry, subject))
            elif entry.path in added:
                result.findings.append(
                    _entry_finding(
                        entry,
                        RULE_MISMATCH,
                        f"entry decides {entry.decision!r}, but this change needs "
                        f"{' or '.join(sorted(subject.decisions))}",
                        subject,
                    )
                )
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
            severity = WARNING if verdict.ok else ERROR
            result.findings.append(
                Finding(
                    entry.path, 1, 1, verdict.rule, severity, verdict.message, verdict.hint, agent=entry.agent
                )
            )
        if not verdict.ok:
            continue
        _remember(latest, entry, verdict)
        if entry.decision == "reject":
            continue
        if not floor.admits(entry):  # a copied or back-dated entry: its signature is fine, its time is not
            result.findings.append(_replayed(entry, subject, floor))
            continue
        if glass:  # an emergency: the author may be the only one awake
            emergency.append(entry)
            continue
        if not allow_self_approval and _is_author(entry, verdict, people):
            result.findings.append(
                _entry_finding(
                    entry,
                    RULE_SELF_APPROVAL,
                    f"{entry.reviewer} authored this change to {subject.name} and cannot approve it "
                    "(separation of duties: the signing key is allowed for an author or committer)",
                    subject,
                )
            )
            continue
        counted.setdefault(_key_of(entry, verdict), entry)
    rejections = [entry for _time, rejects, entry in latest.values() if rejects]
    for entry in rejections:
        path, line, column = subject.where
        result.findings.append(
            Finding(
                path,
                line,
                column,
                RULE_REJECTED,
                ERROR,
                f"{subject.name} {subject.version}: rejected by {entry.reviewer} ({entry.path})",
                "address the reviewer's note, change it and ask for a new review",
                agent=subject.name,
            )
        )
    result.counted = list(counted.values())
    if len(counted) < subject.required and emergency and not rejections and not subject.blockers:
        result.counted.append(emergency[0])
        result.via = BREAK_GLASS
        result.findings.append(_glass_used(emergency[0], subject))
    elif len(counted) < subject.required:
        result.findings.append(_needs_review(subject, result.counted, other_content, consumed))
    result.approved = (
        not rejections and not subject.blockers and (len(counted) >= subject.required or bool(emergency))
    )
    if result.approved:
        result.findings = [_superseded(finding, subject) for finding in result.findings]
    return result


def _superseded(finding: Finding, subject: Subject) -> Finding:
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


def _entry_finding(entry: ReviewEntry, rule: str, message: str, subject: Subject) -> Finding:
    hint = f"ask for a review of the current content: {subject.approve_command}"
    if rule == RULE_SELF_APPROVAL:
        hint = (
            f"ask someone who did not author the change to run: {subject.approve_command}; working alone, "
            "set `allow_self_approval: true` in .agentpolicy.yaml (what `agentpolicy init --solo` writes), "
            "a trust-root change approved like any other"
        )
    return Finding(entry.path, 1, 1, rule, ERROR, message, hint, agent=subject.name)


def _glass_used(entry: ReviewEntry, subject: Subject) -> Finding:
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


def _glass_refused(entry: ReviewEntry, subject: Subject) -> Finding:
    return _entry_finding(
        entry,
        RULE_BREAK_GLASS,
        f"break-glass entry by {entry.reviewer} does not count: the configuration that judges this change "
        "does not allow break-glass",
        subject,
    )


def _replayed(entry: ReviewEntry, subject: Subject, floor: Floor) -> Finding:
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


def _needs_review(
    subject: Subject, counted: list[ReviewEntry], other: list[ReviewEntry], consumed: list[ReviewEntry]
) -> Finding:
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


def _mismatch(subject: Subject, entry: ReviewEntry) -> str:
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
