"""The change gate: which governed changes need which approvals, and whether they have them.

Everything here is judged against the *before* side's configuration and trust
root, so a change cannot relax the rules it is judged by. Agents and the trust
root itself are both *subjects*: something with a digest that reviewers approve.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from agentpolicy.changes import BOUNDARY, EXPANDED, NARROWED, RETIRED, STAGE, VERSION, AgentChange
from agentpolicy.config import Config
from agentpolicy.model import ERROR, WARNING, Finding
from agentpolicy.result import ChangeSummary
from agentpolicy.reviews import ReviewEntry
from agentpolicy.reviewset import ReviewSet

RULE_NEEDS_REVIEW = "AP201"
RULE_BUMP_VERSION = "AP202"
RULE_REJECTED = "AP203"
RULE_SELF_APPROVAL = "AP205"
RULE_MISMATCH = "AP206"
RULE_UNKNOWN_AGENT = "AP207"


@dataclass(frozen=True)
class Verdict:
    """Whether an entry's signature counts; a message on a counting entry is a warning."""

    ok: bool
    rule: str = ""
    message: str = ""
    hint: str = ""


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


def agent_subject(change: AgentChange, required: int) -> Subject:
    target = change.after or change.before
    assert target is not None
    before = change.before.version if change.before else None
    after = change.after.version if change.after else None
    head = (
        f"{change.name} {before} -> {after}"
        if before and after and before != after
        else (f"{change.name} {after or before or ''}".rstrip())
    )
    what = _describe_kinds(change.kinds)
    if change.details:
        what += f" ({'; '.join(change.details)})"
    # A deletion is bound to content that was approved before: only a new
    # `retire` decision can approve it, or the old approval would replay.
    if change.after is None:
        decisions = {"retire"}
    else:
        decisions = {"approve", "retire"} if change.retires else {"approve"}
    line, column = target.document.position(change.at) if change.at else (1, 1)
    return Subject(
        name=change.name,
        digest=target.digest,
        version=target.version or "",
        headline=f"{head}: {what}",
        decisions=decisions,
        required=required,
        paths={state.path for state in (change.before, change.after) if state is not None},
        where=(target.path, line, column),
        approve_command=f"agentpolicy approve {change.name}",
    )


@dataclass
class Gate:
    config: Config
    reviews: ReviewSet
    verify: Verifier
    authors_of: AuthorsOf
    findings: list[Finding] = field(default_factory=list)
    summaries: list[ChangeSummary] = field(default_factory=list)
    _judged: set[str] = field(default_factory=set)

    def run(
        self, changes: Iterable[AgentChange], known_agents: set[str], extra_subjects: Iterable[Subject] = ()
    ) -> None:
        self.reviews.scan_changes()
        for change in changes:
            self._version_bump(change)
            target = change.after or change.before
            assert target is not None
            summary = ChangeSummary(
                agent=change.name,
                path=target.path,
                kinds=list(change.kinds),
                before_version=change.before.version if change.before else None,
                after_version=change.after.version if change.after else None,
                needs_review=change.governed,
            )
            self.summaries.append(summary)
            if change.governed:
                subject = agent_subject(change, self._required(change))
                summary.digest, summary.approvals_required = subject.digest, subject.required
                summary.approved_by = self.judge(subject)
        for subject in extra_subjects:
            self.judge(subject)
        self._added_entries(known_agents)
        self.findings.extend(self.reviews.findings)

    def _version_bump(self, change: AgentChange) -> None:
        if change.before is None or change.after is None or VERSION in change.kinds:
            return
        what = [kind for kind in change.kinds if kind in (EXPANDED, NARROWED, BOUNDARY, STAGE, RETIRED)]
        if not what:
            return
        version = change.after.version or "?"
        self.findings.append(
            Finding(
                change.after.path,
                *change.after.document.position(("version",)),
                RULE_BUMP_VERSION,
                ERROR,
                f"{change.name}: {_describe_kinds(what)} without a version bump (still {version})",
                "bump `version` (e.g. the minor for a boundary change), then ask for a review of it",
                agent=change.name,
            )
        )

    def _required(self, change: AgentChange) -> int:
        counts = [1]
        for state in (change.before, change.after):
            control = state.data.get("change_control") if state else None
            if isinstance(control, dict) and isinstance(control.get("approvals_required"), int):
                counts.append(control["approvals_required"])
        if change.expands_autonomy and self.config.autonomy_expansion_approvals:
            counts.append(self.config.autonomy_expansion_approvals)
        for pack in self.config.packs:
            for policy in pack.approvals:
                if any(state and policy.applies_to(state.data) for state in (change.before, change.after)):
                    if policy.approvals_required:
                        counts.append(policy.approvals_required)
                    if change.expands_autonomy and policy.autonomy_expansion:
                        counts.append(policy.autonomy_expansion)
        return max(counts)

    def judge(self, subject: Subject) -> list[str]:
        """Count the valid approvals of exactly this subject; report what is missing or refused."""
        self._judged.add(subject.name)
        authors = {email.lower() for email in self.authors_of(subject.paths)}
        counted: dict[str, ReviewEntry] = {}
        other_content: list[ReviewEntry] = []
        for entry in self.reviews.for_agent(subject.name):
            if entry.digest != subject.digest:
                other_content.append(entry)
                if entry.path in self.reviews.added_paths:
                    self._entry_finding(entry, RULE_MISMATCH, _mismatch(subject, entry), subject)
                continue
            if entry.decision != "reject" and entry.decision not in subject.decisions:
                if entry.path in self.reviews.added_paths:  # older ones are earlier decisions
                    self._entry_finding(
                        entry,
                        RULE_MISMATCH,
                        f"entry decides {entry.decision!r}, but this change needs "
                        f"{' or '.join(sorted(subject.decisions))}",
                        subject,
                    )
                continue
            if not self._verified(entry):
                continue
            if entry.decision == "reject":
                path, line, column = subject.where
                self.findings.append(
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
                continue
            if entry.reviewer_email.lower() in authors and not self.config.allow_self_approval:
                self._entry_finding(
                    entry,
                    RULE_SELF_APPROVAL,
                    f"{entry.reviewer} authored this change to {subject.name} and cannot approve it "
                    "(separation of duties)",
                    subject,
                )
                continue
            counted.setdefault(entry.reviewer_email.lower(), entry)
        if len(counted) < subject.required:
            self.findings.append(_needs_review(subject, counted, other_content))
        return sorted(entry.reviewer for entry in counted.values())

    def _entry_finding(self, entry: ReviewEntry, rule: str, message: str, subject: Subject) -> None:
        hint = f"ask for a review of the current content: {subject.approve_command}"
        if rule == RULE_SELF_APPROVAL:
            hint = f"ask someone who did not author the change to run: {subject.approve_command}"
        self.findings.append(Finding(entry.path, 1, 1, rule, ERROR, message, hint, agent=subject.name))

    def _verified(self, entry: ReviewEntry) -> bool:
        verdict = self.verify(entry)
        if verdict.message:
            severity = WARNING if verdict.ok else ERROR
            self.findings.append(
                Finding(
                    entry.path, 1, 1, verdict.rule, severity, verdict.message, verdict.hint, agent=entry.agent
                )
            )
        return verdict.ok

    def _added_entries(self, known_agents: set[str]) -> None:
        """Every added entry is judged, even one no change needs: it becomes evidence."""
        for entry in self.reviews.added_entries():
            if entry.agent in self._judged:
                continue
            if entry.agent not in known_agents:
                self.findings.append(
                    Finding(
                        entry.path,
                        1,
                        1,
                        RULE_UNKNOWN_AGENT,
                        WARNING,
                        f"review entry names agent {entry.agent!r}, which is not defined on either side",
                        "check the agent name, or remove the entry before it is committed",
                    )
                )
            self._verified(entry)


def _needs_review(subject: Subject, counted: dict[str, ReviewEntry], other: list[ReviewEntry]) -> Finding:
    found = "found none" if not counted else f"found {len(counted)} ({', '.join(sorted(counted))})"
    plural = "entry" if subject.required == 1 else "entries"
    message = (
        f"{subject.headline}; needs {subject.required} approving review {plural} for this content; {found}"
    )
    if other:
        latest = other[-1]
        message += f"; {latest.path} is for version {latest.version} with other content, so it does not count"
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


def _describe_kinds(kinds: Iterable[str]) -> str:
    return ", ".join(kind.replace("-", " ") for kind in kinds)
